# Sourced by scripts/start-local.sh. Decode demo: sample Kamstrup flowIQ 2101 telegrams (AES-128-CTR, full and
# compact frames) made by the project's encoder, decoded by the `hes decode` CLI.
demo_dir="$HES_LOCAL_DIR/demo"
node scripts/demo/sample-telegrams.js "$demo_dir" "${HES_DEMO_METERS:-5}"
node bin/hes.js decode --keys "$demo_dir/keys.csv" <"$demo_dir/telegrams.hex" >"$demo_dir/decoded.ndjson"
node -e '
  const lines = require("node:fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
  console.log("meter      frame     security     total_m3  result");
  for (const t of lines) {
    const frame = t.header?.tpl?.ci === 0x79 ? "compact" : "full";
    const result = t._ === "telegram" ? "ok" : `${t.error?.code ?? t._}`;
    console.log(`${String(t.id ?? "?").padEnd(10)} ${frame.padEnd(9)} ${String(t.security ?? "").padEnd(12)} ${String(t.total_m3 ?? "").padStart(8)}  ${result}`);
  }
' "$demo_dir/decoded.ndjson"
echo "start-local: decoded telegrams (full JSON): $demo_dir/decoded.ndjson" >&2
