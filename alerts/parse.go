package alerts

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"mqttids/alerts/spool"
	"mqttids/internal/redact"
)

// SinkOptions are the defaults a --alerts SINK string is parsed against
// (from the configuration file); options in a kafka:// URL override them.
type SinkOptions struct {
	Stdout io.Writer // for "-"; default os.Stdout
	File   FileOptions
	// Kafka holds everything but Brokers and Topic, which come from the
	// URL. Secrets (SASLPassword) only come from here, never from a URL.
	// Kafka.SpoolDir is a base folder: each kafka:// sink spools in its
	// own subfolder named after brokers and topic (default base:
	// spool.DefaultDir, /var/lib/mqttids/spool for the service, else the
	// user's cache directory; never a shared temporary directory). A
	// spool=DIR option names the folder itself; spool=none turns spooling
	// off. The folder must belong to the user running mqttids and be
	// closed to group and others (created 0700).
	Kafka KafkaOptions
}

// ParseSink builds the sink named by spec:
//
//   - JSON lines on stdout
//     file:PATH         JSON lines appended to PATH
//     kafka://HOST:PORT[,HOST:PORT]/TOPIC[?OPTIONS]
//
// Kafka OPTIONS (query parameters): acks=all|one|none,
// compression=none|gzip|snappy|lz4|zstd, batch_size=N, batch_timeout=DUR,
// partitioner=murmur2|crc32|fnv1a, client_id=S, write_timeout=DUR,
// spool=DIR, spool_max_bytes=N, spool_sync=append|interval|never,
// tls=true, tls_ca=FILE, tls_cert=FILE, tls_key=FILE, tls_server_name=S,
// tls_insecure_skip_verify=true, sasl=plain|scram-sha-256|scram-sha-512,
// sasl_user=S. The SASL password is taken from opts only.
func ParseSink(spec string, opts SinkOptions) (Sink, error) {
	switch {
	case spec == "-":
		w := opts.Stdout
		if w == nil {
			w = os.Stdout
		}
		return NewWriterSink("stdout", w), nil
	case strings.HasPrefix(spec, "file:"):
		path := strings.TrimPrefix(spec, "file:")
		if path == "" {
			return nil, fmt.Errorf("alert sink %q: empty file path", spec)
		}
		return OpenFileSink(path, opts.File)
	case strings.HasPrefix(spec, "kafka://"):
		ko, err := ParseKafkaURL(spec, opts.Kafka)
		if err != nil {
			return nil, err
		}
		return NewKafkaSink(ko)
	}
	return nil, fmt.Errorf("alert sink %q: want -, file:PATH or kafka://HOST:PORT[,HOST:PORT]/TOPIC", spec)
}

// ParseKafkaURL parses a kafka:// sink URL over base (see ParseSink).
// Every problem is reported, joined.
func ParseKafkaURL(spec string, base KafkaOptions) (KafkaOptions, error) {
	o := base
	fail := func(errs []error) (KafkaOptions, error) {
		return KafkaOptions{}, fmt.Errorf("alert sink %q: %w", redact.URL(spec), errors.Join(errs...))
	}
	u, err := url.Parse(spec)
	if err != nil {
		return fail([]error{errors.New("not a URL")})
	}
	var errs []error
	if u.User != nil {
		errs = append(errs, errors.New("credentials in the URL are not allowed; use sasl_user= and the configuration file for the password"))
	}
	o.Brokers = nil
	for _, hp := range strings.Split(u.Host, ",") {
		host, port, err := net.SplitHostPort(hp)
		if err != nil || host == "" {
			errs = append(errs, fmt.Errorf("broker %q: want HOST:PORT", hp))
			continue
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("broker %q: bad port", hp))
			continue
		}
		o.Brokers = append(o.Brokers, hp)
	}
	o.Topic = strings.TrimPrefix(u.Path, "/")
	if o.Topic == "" || strings.Contains(o.Topic, "/") {
		errs = append(errs, fmt.Errorf("topic %q: want one topic name after the brokers", o.Topic))
	}
	q := u.Query()
	if !q.Has("spool") {
		base := base.SpoolDir
		if base == "" {
			var err error
			if base, err = spool.DefaultDir(); err != nil {
				errs = append(errs, err)
			}
		}
		if base != "" {
			o.SpoolDir = filepath.Join(base, spoolName(u.Host, o.Topic))
		}
	}
	var tlsOn, tlsSkip bool
	var tlsCA, tlsCert, tlsKey, tlsName string
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys) // errors in a stable order
	for _, k := range keys {
		vs := q[k]
		v := vs[len(vs)-1]
		var perr error
		switch k {
		case "acks":
			o.Acks = v
		case "compression":
			o.Compression = v
		case "partitioner":
			o.Partitioner = v
		case "client_id":
			o.ClientID = v
		case "batch_size":
			o.BatchSize, perr = strconv.Atoi(v)
			if perr == nil && o.BatchSize < 1 {
				perr = errors.New("must be positive")
			}
		case "batch_timeout":
			o.BatchTimeout, perr = time.ParseDuration(v)
		case "write_timeout":
			o.WriteTimeout, perr = time.ParseDuration(v)
		case "spool":
			o.SpoolDir = v
			if v == "none" {
				o.SpoolDir = ""
			}
		case "spool_max_bytes":
			o.Spool.MaxBytes, perr = strconv.ParseInt(v, 10, 64)
		case "spool_sync":
			o.Spool.Sync, perr = spool.ParseSyncPolicy(v)
		case "tls":
			tlsOn, perr = strconv.ParseBool(v)
		case "tls_ca":
			tlsCA, tlsOn = v, true
		case "tls_cert":
			tlsCert, tlsOn = v, true
		case "tls_key":
			tlsKey, tlsOn = v, true
		case "tls_server_name":
			tlsName, tlsOn = v, true
		case "tls_insecure_skip_verify":
			tlsSkip, perr = strconv.ParseBool(v)
			tlsOn = tlsOn || tlsSkip
		case "sasl":
			o.SASLMechanism = v
		case "sasl_user":
			o.SASLUser = v
		case "password", "sasl_password":
			perr = errors.New("passwords are not accepted in the URL; use the configuration file")
		default:
			if redact.Sensitive(k) {
				perr = errors.New("secrets are not accepted in the URL; use the configuration file")
				break
			}
			perr = errors.New("unknown option")
		}
		if perr != nil {
			errs = append(errs, fmt.Errorf("option %s: %w", k, perr))
		}
	}
	if tlsOn {
		cfg, err := kafkaTLS(base.TLS, tlsCA, tlsCert, tlsKey, tlsName, tlsSkip)
		if err != nil {
			errs = append(errs, err)
		}
		o.TLS = cfg
	}
	if o.SASLMechanism != "" && o.SASLUser == "" {
		errs = append(errs, errors.New("sasl needs sasl_user"))
	}
	if err := o.validate(); err != nil && len(errs) == 0 {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fail(errs)
	}
	return o, nil
}

func kafkaTLS(base *tls.Config, ca, cert, key, name string, skip bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		cfg = base.Clone()
	}
	if name != "" {
		cfg.ServerName = name
	}
	cfg.InsecureSkipVerify = cfg.InsecureSkipVerify || skip
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("tls_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_ca %s: no PEM certificate", ca)
		}
		cfg.RootCAs = pool
	}
	if (cert == "") != (key == "") {
		return nil, errors.New("tls_cert and tls_key go together")
	}
	if cert != "" {
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg, nil
}

// spoolName is a folder name for one sink's spool, stable across restarts.
func spoolName(hosts, topic string) string {
	b := []byte("kafka_" + hosts + "_" + topic)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
