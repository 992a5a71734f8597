package xxljob

import "github.com/prometheus/client_golang/prometheus"

// metrics are the executor's Prometheus metrics.
type metrics struct {
	requests         *prometheus.CounterVec
	runs             *prometheus.CounterVec
	registryErrors   prometheus.Counter
	callbacksSent    prometheus.Counter
	callbackErrors   prometheus.Counter
	callbacksDropped prometheus.Counter
	callbacksPending prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mkt_xxljob_requests_total",
			Help: "Requests from the XXL-Job admin by endpoint and answer code (200, 500)."}, []string{"endpoint", "code"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mkt_xxljob_runs_total",
			Help: "Triggers run to an end by handler and result code (200 ok, 500 failed or killed, 502 timed out)."}, []string{"handler", "code"}),
		registryErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_xxljob_registry_errors_total",
			Help: "Registry rounds no admin accepted."}),
		callbacksSent: prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_xxljob_callbacks_sent_total",
			Help: "Run results the admin accepted."}),
		callbackErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_xxljob_callback_errors_total",
			Help: "Callback attempts that failed (retried with backoff)."}),
		callbacksDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_xxljob_callbacks_dropped_total",
			Help: "Run results dropped: the callback queue was full, or the executor stopped before the admin took them."}),
		callbacksPending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mkt_xxljob_callbacks_pending",
			Help: "Run results waiting to be sent to the admin."}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.runs, m.registryErrors, m.callbacksSent, m.callbackErrors, m.callbacksDropped, m.callbacksPending)
	}
	return m
}
