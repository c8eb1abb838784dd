import { histogramBuckets, histogramQuantileUpperBound, parsePrometheusText, sumSamples } from './prometheus';

const collector = `# HELP hes_telegrams_received_total Raw telegrams received, by input source.
# TYPE hes_telegrams_received_total counter
hes_telegrams_received_total{source="gateway",app="collector"} 1500
hes_telegrams_received_total{source="mqtt",app="collector"} 25
nodejs_heap_size_used_bytes{app="collector"} 1.25e+7
weird_label{path="a \\"quoted\\" \\\\ value",app="x"} 1
empty_ratio{app="collector"} Nan
`;

const histogram = (app: string, counts: number[]) =>
  ['0.1', '0.5', '1', '+Inf']
    .map(
      (le, i) =>
        `hes_processing_latency_seconds_bucket{le="${le}",stage="kafka_to_decoded",app="${app}"} ${counts[i]}`,
    )
    .concat(`hes_processing_latency_seconds_bucket{le="0.1",stage="decoded_to_stored",app="${app}"} 1000`)
    .join('\n');

describe('parsePrometheusText', () => {
  it('reads names, labels (with escapes) and values, skipping comments', () => {
    const samples = parsePrometheusText(collector);
    expect(samples).toHaveLength(5);
    expect(samples[0]).toEqual({
      name: 'hes_telegrams_received_total',
      labels: { source: 'gateway', app: 'collector' },
      value: 1500,
    });
    expect(samples[2].value).toBe(12_500_000);
    expect(samples[3].labels.path).toBe('a "quoted" \\ value');
    expect(samples[4].value).toBeNaN();
  });

  it('rejects a line that is not a sample', () => {
    expect(() => parsePrometheusText('hes_x{app="a"}')).toThrow('not a Prometheus sample line');
    expect(() => parsePrometheusText('hes_x 12abc')).toThrow('not a sample value: 12abc');
  });
});

describe('sumSamples', () => {
  it('sums the series of one metric that carry the given labels', () => {
    const samples = parsePrometheusText(collector);
    expect(sumSamples(samples, 'hes_telegrams_received_total')).toBe(1525);
    expect(sumSamples(samples, 'hes_telegrams_received_total', { source: 'mqtt' })).toBe(25);
    expect(sumSamples(samples, 'hes_telegrams_received_total', { source: 'handheld' })).toBe(0);
  });
});

describe('histogram quantiles', () => {
  it('adds the buckets of several processes and picks the stage', () => {
    const samples = parsePrometheusText(
      `${histogram('d1', [10, 50, 90, 100])}\n${histogram('d2', [0, 0, 0, 100])}`,
    );
    const buckets = histogramBuckets(samples, 'hes_processing_latency_seconds', {
      stage: 'kafka_to_decoded',
    });
    expect(buckets.bounds).toEqual([0.1, 0.5, 1, Infinity]);
    expect(buckets.cumulative).toEqual([10, 50, 90, 200]);
  });

  it('gives the upper bound of the bucket holding the quantile, never less', () => {
    const buckets = { bounds: [0.1, 0.5, 1, Infinity], cumulative: [10, 50, 99, 100] };
    expect(histogramQuantileUpperBound(buckets, 0.1)).toBe(0.1);
    expect(histogramQuantileUpperBound(buckets, 0.5)).toBe(0.5);
    expect(histogramQuantileUpperBound(buckets, 0.51)).toBe(1);
    expect(histogramQuantileUpperBound(buckets, 0.99)).toBe(1);
    expect(histogramQuantileUpperBound(buckets, 0.995)).toBe(Infinity);
    expect(histogramQuantileUpperBound({ bounds: [], cumulative: [] }, 0.5)).toBeNaN();
  });
});
