package pipeline

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// statsCollector exports a Stats snapshot taken at scrape time, so /metrics
// and the --stats file always agree.
type statsCollector struct {
	snapshot func() Stats
}

var (
	descPackets      = prometheus.NewDesc("mqttids_packets_total", "Frames read from the capture.", nil, nil)
	descBytes        = prometheus.NewDesc("mqttids_bytes_total", "Bytes of the frames read.", nil, nil)
	descFlows        = prometheus.NewDesc("mqttids_tcp_flows_total", "TCP flows seen on MQTT ports or recognised as MQTT.", nil, nil)
	descConns        = prometheus.NewDesc("mqttids_mqtt_connections_total", "MQTT connections (TCP flows carrying MQTT).", nil, nil)
	descTLS          = prometheus.NewDesc("mqttids_tls_connections_total", "Connections on TLS ports (counted, not decoded).", nil, nil)
	descMQTT         = prometheus.NewDesc("mqttids_mqtt_packets_total", "MQTT control packets decoded, by type.", []string{"type"}, nil)
	descMalformed    = prometheus.NewDesc("mqttids_malformed_total", "Protocol violations, by the specification rule violated.", []string{"rule"}, nil)
	descGaps         = prometheus.NewDesc("mqttids_reassembly_gaps_total", "Gaps in reassembled TCP streams.", nil, nil)
	descDropped      = prometheus.NewDesc("mqttids_dropped_total", "Packets or events dropped, by reason.", []string{"reason"}, nil)
	descEvicted      = prometheus.NewDesc("mqttids_evicted_total", "State evicted to stay within bounds, by table.", []string{"table"}, nil)
	descAlerts       = prometheus.NewDesc("mqttids_alerts_total", "Alerts raised, by category.", []string{"category"}, nil)
	descKernelFrames = prometheus.NewDesc("mqttids_kernel_filter_frames_total", "Frames the eBPF socket filter ran on (seen) and passed to the capture rings.", []string{"result"}, nil)
	descKernelRing   = prometheus.NewDesc("mqttids_kernel_ring_total", "AF_PACKET ring counters: packets, drops (ring full), freezes.", []string{"counter"}, nil)
	descKernelTCP    = prometheus.NewDesc("mqttids_kernel_tcp_flags_total", "SYNs to and RSTs on MQTT ports, counted in the kernel per source and summed.", []string{"flag"}, nil)
	descBlockEvents  = prometheus.NewDesc("mqttids_block_list_changes_total", "Block-list additions and removals.", nil, nil)
	descRules        = prometheus.NewDesc("mqttids_rules_total", "Rules engine: conditions evaluated, evaluation errors, suppressed firings, suppressions not recorded (table full), alerts that blocked.", []string{"counter"}, nil)
	descCleartext    = prometheus.NewDesc("mqttids_cleartext_logins_total", "Logins accepted with a password on a non-TLS port, by broker.", []string{"broker"}, nil)
)

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(c, ch)
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descPackets, s.Packets)
	counter(descBytes, s.Bytes)
	counter(descFlows, s.TCPFlows)
	counter(descConns, s.MQTTConnections)
	counter(descTLS, s.TLSConnections)
	for k, v := range s.MQTTByType {
		counter(descMQTT, v, k)
	}
	for k, v := range s.MalformedByRule {
		counter(descMalformed, v, k)
	}
	counter(descGaps, s.ReassemblyGaps)
	for k, v := range s.DroppedBy {
		counter(descDropped, v, k)
	}
	for k, v := range s.EvictedBy {
		counter(descEvicted, v, k)
	}
	for k, v := range s.AlertsByCategory {
		counter(descAlerts, v, k)
	}
	counter(descBlockEvents, s.BlockEntries)
	if r := s.Rules; r != nil {
		counter(descRules, r.Evaluations, "evaluations")
		counter(descRules, r.EvalErrors, "eval_errors")
		counter(descRules, r.Suppressed, "suppressed")
		counter(descRules, r.SuppressFull, "suppress_full")
		counter(descRules, r.Blocked, "blocked")
	}
	for k, v := range s.CleartextByBroker {
		counter(descCleartext, v, k)
	}
	if k := s.Kernel; k != nil {
		counter(descKernelFrames, k.FilterSeen, "seen")
		counter(descKernelFrames, k.FilterPassed, "passed")
		counter(descKernelRing, k.RingPackets, "packets")
		counter(descKernelRing, k.RingDrops, "drops")
		counter(descKernelRing, k.RingFreezes, "freezes")
		counter(descKernelTCP, k.SYN, "syn")
		counter(descKernelTCP, k.RST, "rst")
	}
}

// NewMetricsHandler serves /metrics (a registry of this sensor's own, no
// global state) and /healthz, which fails when health() returns an error.
func NewMetricsHandler(snapshot func() Stats, health func() error, extra ...prometheus.Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(statsCollector{snapshot: snapshot}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(extra...)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Timeout: 5 * time.Second}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := health(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
