package filaprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fila-go/fila"
)

// constHistogram converts a fila histogram, whose counts are per bucket, to
// a Prometheus histogram, whose buckets are cumulative. The last fila
// bucket (+Inf) is implied by the total count.
func constHistogram(d *prometheus.Desc, h fila.Histogram, labels []string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, bound := range h.Bounds {
		if i < len(h.Counts) {
			cum += h.Counts[i]
		}
		buckets[bound] = cum
	}
	m, err := prometheus.NewConstHistogram(d, h.Count, h.Sum, buckets, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}
