#!/usr/bin/env node
// The `hes` command runs the compiled CLI; `npm install` / `npm ci` build it through the `prepare` script.
require('../dist/apps/cli/src/main.js');
