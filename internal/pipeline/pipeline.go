package pipeline

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mqttids/alerts"
	"mqttids/alerts/dynsec"
	"mqttids/block"
	"mqttids/capture"
	"mqttids/decode"
	"mqttids/detect"
	"mqttids/event"
	"mqttids/internal/config"
	"mqttids/internal/defaults"
	"mqttids/internal/redact"
	"mqttids/rules"
)

// Options configure a Sensor.
type Options struct {
	Config config.Config
	Stdout io.Writer      // the "-" sink; default os.Stdout
	Logger *slog.Logger   // nil: discard
	Extra  alerts.Emitter // also receives every alert and block event (tests)
	// Enforcers are added to those of the configuration (e.g. the XDP
	// enforcer, which only `run` can attach).
	Enforcers []block.Enforcer
	// Live: packet timestamps are wall-clock time, so the lag from packet
	// to detection is measured (sampled) for the metrics.
	Live bool
	// Capture is the capture layout `run` computed (fanout sockets as
	// Sources, the kernel filter); nil: CaptureOptions(&Config), one
	// engine of Config.Workers shards.
	Capture *capture.Options
}

// setDefaults fills the zero fields that New does not leave to a stage
// (a nil Stdout is the sinks' default, os.Stdout).
func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Sensor is one configured pipeline.
type Sensor struct {
	cfg     config.Config
	log     *slog.Logger
	cap     *capture.Pipeline
	det     *detect.Detector
	eng     *rules.Engine
	disp    *alerts.Dispatcher
	bl      *block.List
	counter *countingEmitter
	// enforcers are closed by bl; kept to report what they spooled.
	enforcers []block.Enforcer
	extra     func(st *Stats)
	health    captureProgress
	live      bool
	events    uint64
	// lag is packet timestamp → event handed to detection, sampled one
	// event in lagSample (live only).
	lag prometheus.Histogram

	closeTimeout time.Duration // CloseTimeout; tests shorten it
	handled      uint64        // events seen (handle's goroutine)
	evalErrs     struct {      // what logEvalErrors last logged
		logged uint64
		at     time.Time
	}
	closeOnce sync.Once
	closeErr  error
}

// CaptureOptions maps the configuration onto the capture stage of one
// engine (replay, decode); `run` sets Sources and KernelFilter on top.
func CaptureOptions(cfg *config.Config) capture.Options {
	return capture.Options{
		Ports:          cfg.Ports,
		TLSPorts:       cfg.Capture.TLSPorts,
		WebSocketPorts: cfg.Capture.WebSocketPorts,
		Workers:        cfg.Workers,
		MaxFlows:       cfg.Capture.MaxFlows,
		MaxFlowBuffer:  cfg.Capture.MaxFlowBuffer,
		MaxBufferTotal: cfg.Capture.MaxBufferTotal,
		IdleTimeout:    cfg.Capture.IdleTimeout,
		MaxPacketSize:  cfg.Capture.MaxPacketSize,
	}
}

// New builds every stage; on error it closes what it opened.
func New(opts Options) (s *Sensor, err error) {
	cfg := opts.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts.setDefaults()
	log := opts.Logger
	rs, err := rules.Load(cfg.Rules, rules.LoadOptions{})
	if err != nil {
		return nil, err
	}
	allowed, err := config.Prefixes(cfg.Detect.AllowedNetworks)
	if err != nil {
		return nil, err
	}
	sinkOpts, err := sinkOptions(&cfg, opts.Stdout)
	if err != nil {
		return nil, err
	}
	// undo closes, newest first, what was opened when New fails half-way.
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	closeCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 5*time.Second)
	}
	var sinks []alerts.Sink
	for _, spec := range cfg.Alerts {
		sk, err := alerts.ParseSink(spec, sinkOpts)
		if err != nil {
			return nil, fmt.Errorf("alerts %s: %w", redact.URL(spec), err)
		}
		sinks = append(sinks, sk)
		undo = append(undo, func() { ctx, cancel := closeCtx(); defer cancel(); _ = sk.Close(ctx) })
	}
	enforcers, err := newEnforcers(&cfg, sinkOpts.Kafka)
	if err != nil {
		return nil, err
	}
	enforcers = append(enforcers, opts.Enforcers...)
	for _, e := range enforcers {
		undo = append(undo, func() { _ = e.Close() })
	}
	allow, err := block.ParseAllowlist(cfg.Block.Allowlist)
	if err != nil {
		return nil, fmt.Errorf("block.allowlist: %w", err)
	}
	brokers, err := config.Prefixes(cfg.Block.Brokers)
	if err != nil {
		return nil, fmt.Errorf("block.brokers: %w", err)
	}
	disp := alerts.NewDispatcher(sinks, alerts.DispatcherOptions{
		OnError: func(sink string, err error) { log.Warn("alert sink", "sink", sink, "err", err) },
	})
	// The dispatcher now owns the sinks, and the block list the enforcers.
	undo = []func(){func() { ctx, cancel := closeCtx(); defer cancel(); _ = disp.Close(ctx) }}
	var next alerts.Emitter = disp
	if opts.Extra != nil {
		next = teeEmitter{disp, opts.Extra}
	}
	counter := newCountingEmitter(next)
	bl, err := block.New(block.Options{
		MaxEntries: cfg.Block.MaxEntries,
		MaxTTL:     cfg.Block.MaxTTL,
		Allow:      allow,
		Brokers:    brokers,
		Emitter:    counter,
		Enforcers:  enforcers,
		OnError:    func(enf string, err error) { log.Warn("block enforcer", "enforcer", enf, "err", err) },
	})
	if err != nil {
		for _, e := range enforcers {
			_ = e.Close()
		}
		return nil, err
	}
	undo = append(undo, func() { _ = bl.Close() })
	eng, err := rules.NewEngine(rules.Options{Ruleset: rs, Emitter: counter, Blocker: bl,
		OnEvalError: func(rule string, err error) {
			log.Warn("rule condition failed at run time; it counts as false (later failures are only counted)", "rule", rule, "err", err)
		}})
	if err != nil {
		return nil, err
	}
	det := detect.New(detect.Options{
		AllowedNetworks: allowed,
		TLSPorts:        cfg.Capture.TLSPorts,
		MaxSources:      cfg.Detect.MaxSources,
		SilentTimeout:   cfg.Detect.SilentTimeout,
	}, eng)
	s = &Sensor{cfg: cfg, log: log, det: det, eng: eng, disp: disp, bl: bl, counter: counter, enforcers: enforcers, live: opts.Live, closeTimeout: CloseTimeout,
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mqttids_detection_lag_seconds",
			Help:    "Time from a packet's capture timestamp to its event reaching detection (live capture, one event in 256 sampled).",
			Buckets: prometheus.ExponentialBuckets(50e-6, 4, 10), // 50 µs … 13 s
		})}
	co := CaptureOptions(&cfg)
	if opts.Capture != nil {
		co = *opts.Capture
	}
	cp, err := capture.New(co, event.HandlerFunc(s.handle))
	if err != nil {
		return nil, err
	}
	s.cap = cp
	return s, nil
}

// handle is the capture stage's handler: detect (and through it rules)
// sees the event. Which addresses are never blocked is configuration
// (block.allowlist, block.brokers), never learnt from the traffic here.
func (s *Sensor) handle(ev *event.Event) {
	s.handled++
	if s.handled&(evalErrCheck-1) == 0 {
		s.logEvalErrors(false)
	}
	if s.live {
		s.events++
		if s.events&(lagSample-1) == 0 {
			s.lag.Observe(time.Since(ev.Time).Seconds())
		}
	}
	s.det.Handle(ev)
}

// lagSample is how often the detection lag is measured (a power of two).
const lagSample = 256

// evalErrCheck is how often (in events) the rules engine's evaluation
// errors are looked at for the log (a power of two).
const evalErrCheck = 4096

// logEvalErrors summarises rule conditions failing at run time (such a
// rule never fires): at most once a minute while the count grows, and at
// the end (final), with the count per rule. The first failure of each rule
// is logged at once by the engine's OnEvalError.
func (s *Sensor) logEvalErrors(final bool) {
	if s.eng == nil {
		return
	}
	e := s.eng.Stats()
	if e.EvalErrors == s.evalErrs.logged {
		return
	}
	now := time.Now()
	if s.evalErrs.at.IsZero() {
		// The first failure of each rule is logged by the engine
		// (OnEvalError, naming the rule); from here on, a summary.
		s.evalErrs.at = now
	}
	if !final && now.Sub(s.evalErrs.at) < time.Minute {
		return
	}
	s.log.Warn("rule conditions failing at run time (a failing condition is false: its rule does not fire)",
		"eval_errors", e.EvalErrors, "new", e.EvalErrors-s.evalErrs.logged, "evaluations", e.Evaluations, "by_rule", e.EvalErrorsByRule)
	s.evalErrs.logged, s.evalErrs.at = e.EvalErrors, now
}

// Collectors are the sensor's own Prometheus collectors beyond its
// statistics (the detection-lag histogram).
func (s *Sensor) Collectors() []prometheus.Collector { return []prometheus.Collector{s.lag} }

// ReplayFile runs one capture file through the pipeline.
func (s *Sensor) ReplayFile(ctx context.Context, path string) error {
	return s.cap.ReplayFile(ctx, path)
}

// RunSource runs one live source (one per capture worker).
func (s *Sensor) RunSource(ctx context.Context, src capture.Source) error {
	return s.cap.RunSource(ctx, src)
}

// Reload swaps the rules (SIGHUP) keeping every counter.
func (s *Sensor) Reload() error {
	rs, err := rules.Load(s.cfg.Rules, rules.LoadOptions{})
	if err != nil {
		return err
	}
	s.eng.Reload(rs)
	return s.disp.Reopen()
}

// BytesRead is the frame bytes read so far (for progress).
func (s *Sensor) BytesRead() int64 { return int64(s.cap.Stats().Bytes) }

// CloseTimeout bounds Close: the alert sinks and the block enforcers are
// closed side by side within it; what a Kafka sink or the block topic has
// not delivered by then stays in its spool for the next run.
const CloseTimeout = 15 * time.Second

// Close flushes every stage in order and closes the sinks and enforcers
// within CloseTimeout; it reports an error when an alert could be neither
// delivered nor spooled, and logs how many were left in a spool.
func (s *Sensor) Close() error {
	s.closeOnce.Do(func() {
		s.cap.Flush()
		last := s.cap.Stats().LastTime
		if !last.IsZero() {
			s.det.Flush(last)
		}
		s.logEvalErrors(true)
		ctx, cancel := context.WithTimeout(context.Background(), s.closeTimeout)
		defer cancel()
		var blErr error
		blDone := make(chan struct{})
		go func() {
			defer close(blDone)
			blErr = s.bl.Close()
		}()
		var errs []error
		if err := s.disp.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close sinks: %w", err))
		}
		<-blDone
		if blErr != nil {
			errs = append(errs, fmt.Errorf("close block list: %w", blErr))
		}
		for _, st := range s.disp.Stats() {
			if st.Pending > 0 {
				s.log.Warn("alerts not delivered by the close deadline are kept in the spool for the next run",
					"sink", st.Sink, "spooled", st.Pending, "deadline", s.closeTimeout)
			}
			if st.Failed > 0 || st.Dropped > 0 {
				errs = append(errs, fmt.Errorf("sink %s: %d alerts neither delivered nor spooled, %d dropped", st.Sink, st.Failed, st.Dropped))
			}
		}
		for _, e := range s.enforcers {
			if k, ok := e.(*alerts.KafkaBlockEnforcer); ok {
				if st := k.Stats(); st.Pending > 0 {
					s.log.Warn("block changes not delivered by the close deadline are kept in the spool for the next run",
						"enforcer", k.Name(), "spooled", st.Pending, "deadline", s.closeTimeout)
				}
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Health fails (for /healthz) when an alert sink failed alerts, when a sink
// or the block topic has had work for longer than health.sink_stall without
// delivering anything, and (live) when the kernel has been delivering
// frames to the capture sockets for longer than health.capture_stall while
// none was read.
func (s *Sensor) Health() error {
	stall := s.cfg.Health.SinkStall
	if stall <= 0 {
		stall = defaults.HealthSinkStall
	}
	var errs []error
	check := func(st alerts.SinkStats) {
		if st.Failed > 0 {
			errs = append(errs, fmt.Errorf("sink %s failed %d alerts", st.Sink, st.Failed))
		}
		if st.StalledFor > stall {
			errs = append(errs, fmt.Errorf("sink %s has delivered nothing for %v with work in flight, %d queued, %d spooled (health.sink_stall %v)",
				st.Sink, st.StalledFor.Round(100*time.Millisecond), st.Queued, st.Pending, stall))
		}
	}
	for _, st := range s.disp.Stats() {
		check(st)
	}
	for _, e := range s.enforcers {
		if k, ok := e.(*alerts.KafkaBlockEnforcer); ok {
			check(k.Stats())
		}
	}
	if err := s.captureHealth(time.Now()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// SetKernelPackets gives live capture's count of frames the kernel has
// delivered to the capture sockets (ring packets, drops included), against
// which Health judges whether capture is reading.
func (s *Sensor) SetKernelPackets(f func() uint64) {
	s.health.mu.Lock()
	s.health.kernel = f
	s.health.mu.Unlock()
}

// captureHealth: the kernel counted frames for the capture sockets since
// capture last read one, and that was longer than health.capture_stall ago.
// A quiet link is healthy (the kernel counts nothing); so is a busy one
// whose reader keeps up.
func (s *Sensor) captureHealth(now time.Time) error {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.kernel == nil {
		return nil
	}
	stall := s.cfg.Health.CaptureStall
	if stall <= 0 {
		stall = defaults.HealthCaptureStall
	}
	read, kern := s.cap.Stats().Packets, h.kernel()
	if h.at.IsZero() || read != h.read || kern == h.kernAtRead {
		// reading, or nothing arrived for the reader: the clock restarts
		h.read, h.kernAtRead, h.at = read, kern, now
		return nil
	}
	if now.Sub(h.at) > stall {
		return fmt.Errorf("capture stalled: %d frames reached the capture sockets and none was read for %v (health.capture_stall %v)",
			kern-h.kernAtRead, now.Sub(h.at).Round(time.Second), stall)
	}
	return nil
}

// captureProgress is what captureHealth remembers between calls.
type captureProgress struct {
	mu         sync.Mutex
	kernel     func() uint64
	read       uint64    // frames capture had read at the last look with nothing unread
	kernAtRead uint64    // the kernel's count then
	at         time.Time // when that was
}

// Stats is the contract's statistics for a run that took elapsed.
func (s *Sensor) Stats(elapsed time.Duration) Stats {
	c := s.cap.Stats()
	d := s.det.Stats()
	st := Stats{
		Packets: c.Packets, Bytes: c.Bytes, TCPFlows: c.TCPFlows,
		MQTTConnections: c.MQTTConnections, MQTTPackets: c.MQTTPackets,
		Malformed: c.Malformed, ReassemblyGaps: c.ReassemblyGaps,
		TLSConnections:  c.TLSConnections,
		MQTTByType:      map[string]uint64{},
		MalformedByRule: map[string]uint64{},
		DroppedBy:       map[string]uint64{},
		EvictedBy:       map[string]uint64{},
		ElapsedS:        since(elapsed),
	}
	for t, n := range c.MQTTByType {
		if n > 0 {
			st.MQTTByType[decode.Type(t).String()] = n
		}
	}
	for k, v := range c.MalformedByRule {
		st.MalformedByRule[k] = v
	}
	add := func(m map[string]uint64, k string, v uint64) {
		if v > 0 {
			m[k] += v
		}
	}
	var byReason uint64
	for k, v := range c.DroppedBy {
		add(st.DroppedBy, "capture_"+k, v)
		byReason += v
	}
	if c.Dropped > byReason {
		add(st.DroppedBy, "capture", c.Dropped-byReason)
	}
	st.OverlapConflicts, st.FragmentsReassembled, st.FragmentOverlaps = c.OverlapConflicts, c.Reassembled, c.FragmentOverlaps
	for _, ss := range s.disp.Stats() {
		add(st.DroppedBy, "sink:"+ss.Sink, ss.Dropped+ss.Failed)
	}
	add(st.DroppedBy, "detect_timers", d.TimersDropped)
	add(st.EvictedBy, "flows", c.Evicted)
	add(st.EvictedBy, "sources", d.EvictionsSources)
	add(st.EvictedBy, "client_ids", d.EvictionsClientIDs)
	add(st.EvictedBy, "usernames", d.EvictionsUsernames)
	add(st.EvictedBy, "connections", d.EvictionsConns)
	add(st.EvictedBy, "passwords", d.EvictionsPasswords)
	if len(d.CleartextByBroker) > 0 {
		st.CleartextByBroker = d.CleartextByBroker
	}
	st.AlertsByCategory = map[string]uint64{}
	if s.eng != nil {
		e := s.eng.Stats()
		st.Alerts, st.AlertsByCategory = e.Alerts, e.ByCategory
		st.Rules = &RuleStats{Evaluations: e.Evaluations, EvalErrors: e.EvalErrors, EvalErrorsByRule: e.EvalErrorsByRule,
			Suppressed: e.Suppressed, SuppressFull: e.SuppressFull, Blocked: e.Blocked}
	}
	if s.extra != nil {
		s.extra(&st)
	}
	for _, v := range st.DroppedBy {
		st.Dropped += v
	}
	for _, v := range st.EvictedBy {
		st.Evicted += v
	}
	if !c.FirstTime.IsZero() {
		st.CaptureSpan = c.LastTime.Sub(c.FirstTime).Seconds()
	}
	s.counter.fill(&st)
	st.PacketsPerS = float64(st.Packets) / st.ElapsedS
	return st
}

// Summary prints the human summary of st.
func (s *Sensor) Summary(w io.Writer, st Stats) { WriteSummary(w, st) }

// sinkOptions maps the output section onto the sinks' defaults.
func sinkOptions(cfg *config.Config, stdout io.Writer) (alerts.SinkOptions, error) {
	o := alerts.SinkOptions{Stdout: stdout}
	k := &o.Kafka
	k.SpoolDir = cfg.Output.SpoolDir
	k.Spool.MaxBytes = cfg.Output.SpoolMaxBytes
	k.BatchTimeout = cfg.Output.KafkaBatch
	k.Compression = cfg.Output.KafkaCompress
	if cfg.Output.KafkaTLS {
		k.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	k.SASLMechanism = cfg.Output.KafkaSASLMech
	k.SASLUser = cfg.Output.KafkaSASLUser
	if cfg.Output.KafkaSASLPass != "" {
		b, err := os.ReadFile(cfg.Output.KafkaSASLPass)
		if err != nil {
			return o, fmt.Errorf("output.kafka_sasl_password_file: %w", err)
		}
		k.SASLPassword = strings.TrimRight(string(b), "\r\n")
	}
	return o, nil
}

// newEnforcers builds the enforcers the block section configures.
func newEnforcers(cfg *config.Config, kafka alerts.KafkaOptions) ([]block.Enforcer, error) {
	var out []block.Enforcer
	fail := func(err error) ([]block.Enforcer, error) {
		for _, e := range out {
			_ = e.Close()
		}
		return nil, err
	}
	b := cfg.Block
	if b.KafkaTopic != "" {
		ko, err := alerts.ParseKafkaURL(b.KafkaTopic, kafka)
		if err != nil {
			return fail(fmt.Errorf("block.kafka: %w", err))
		}
		e, err := alerts.NewKafkaBlockEnforcer(ko, 0)
		if err != nil {
			return fail(fmt.Errorf("block.kafka: %w", err))
		}
		e.CloseTimeout = CloseTimeout
		out = append(out, e)
	}
	if b.File != "" || b.NftFile != "" {
		e, err := alerts.NewListFileEnforcer(alerts.ListFileOptions{Path: b.File, NftPath: b.NftFile})
		if err != nil {
			return fail(fmt.Errorf("block.file: %w", err))
		}
		out = append(out, e)
	}
	if b.DynsecURL != "" {
		var pass []byte
		if b.DynsecPass != "" {
			p, err := os.ReadFile(b.DynsecPass)
			if err != nil {
				return fail(fmt.Errorf("block.dynsec_password_file: %w", err))
			}
			pass = []byte(strings.TrimRight(string(p), "\r\n"))
		}
		e, err := dynsec.New(dynsec.Options{Broker: b.DynsecURL, Username: b.DynsecUser, Password: pass})
		if err != nil {
			return fail(fmt.Errorf("block.dynsec_url: %w", err))
		}
		out = append(out, e)
	}
	return out, nil
}

// teeEmitter sends everything to two emitters.
type teeEmitter struct{ a, b alerts.Emitter }

func (t teeEmitter) EmitAlert(x *alerts.Alert) { t.a.EmitAlert(x); t.b.EmitAlert(x) }
func (t teeEmitter) EmitBlock(x *block.Event)  { t.a.EmitBlock(x); t.b.EmitBlock(x) }

// SetExtraStats adds counters from outside the pipeline (the kernel's ring
// drops of a live capture) to every statistics snapshot.
func (s *Sensor) SetExtraStats(f func(st *Stats)) { s.extra = f }
