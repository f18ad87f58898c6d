package pipeline

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the Prometheus metrics of one idlink process. It owns its
// registry, so several processes (or tests) never share state.
type Metrics struct {
	Registry  *prometheus.Registry
	Processed *prometheus.CounterVec   // idlink_events_processed_total{consumer}
	Rejected  *prometheus.CounterVec   // idlink_events_rejected_total{consumer,reason}
	Batch     *prometheus.HistogramVec // idlink_batch_seconds{consumer}
	Lag       *prometheus.GaugeVec     // idlink_consumer_lag{consumer}
	Retries   *prometheus.CounterVec   // idlink_batch_retries_total{consumer}
	Published *prometheus.CounterVec   // idlink_messages_published_total{topic_kind}
}

// NewMetrics registers idlink's metrics, plus Go and process collectors, in
// a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idlink_events_processed_total", Help: "Messages fully processed and committed, by consumer.",
		}, []string{"consumer"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idlink_events_rejected_total", Help: "Messages sent to the dead-letter topic, by consumer and reason.",
		}, []string{"consumer", "reason"}),
		Batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "idlink_batch_seconds", Help: "Time to make one batch durable, by consumer.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"consumer"}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "idlink_consumer_lag", Help: "Messages behind the end of the assigned partitions, by consumer.",
		}, []string{"consumer"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idlink_batch_retries_total", Help: "Batches retried after a failure (e.g. Redis or ClickHouse down), by consumer.",
		}, []string{"consumer"}),
		Published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idlink_messages_published_total", Help: "Messages published, by kind of topic.",
		}, []string{"topic_kind"}),
	}
	m.Registry.MustRegister(m.Processed, m.Rejected, m.Batch, m.Lag, m.Retries, m.Published,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
