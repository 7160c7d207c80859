package config

import (
	"path/filepath"
	"reflect"
	"time"
)

// Every default lives in this file. Default gives the top-level values;
// newValue gives the starting value of each list element and optional block
// before the file's keys are decoded over it, so a key the file leaves out
// keeps its default. Maps are merged (a default entry stays unless the file
// names it); lists written in the file replace the default list.

// Default returns a config with every default applied and nothing else: no
// workloads, sinks, integrations, policies or flows. Relative paths in it are
// relative to opshub's working directory; Parse makes them absolute.
func Default() *Config {
	return &Config{
		DataDir: "./.opshub",
		Server: Server{Listen: "127.0.0.1:7420", Exec: ExecSessions{
			IdleTimeout:    Duration(30 * time.Minute),
			MaxPerInstance: 8,
		}, Limits: ServerLimits{
			MaxTails:          100,
			MaxTailsPerClient: 10,
			MaxQueryRange:     Duration(31 * 24 * time.Hour),
		}},
		Platform: Platform{Kind: PlatformLocal},
		Collector: Collector{
			MaxLineBytes: 256 * KiB,
		},
		Notifications: Notifications{Retry: Retry{
			InitialBackoff: Duration(time.Second),
			MaxBackoff:     Duration(5 * time.Minute),
			GiveUpAfter:    Duration(24 * time.Hour),
			DisableAfter:   5,
		}},
		Alerts: Alerts{
			Throttle:  map[string]Duration{ThrottleDefault: Duration(15 * time.Minute)},
			CrashLoop: CrashLoop{Restarts: 3, Window: Duration(10 * time.Minute)},
			CPU:       UsageAlert{Threshold: 90, SustainedFor: Duration(5 * time.Minute)},
			Memory:    UsageAlert{Threshold: 90, SustainedFor: Duration(5 * time.Minute)},
			Volume: VolumeAlert{
				Thresholds:         []float64{75, 90},
				ForecastFullWithin: Duration(24 * time.Hour),
			},
		},
		Autoscaling: Autoscaling{Interval: Duration(15 * time.Second)},
		Spend: Spend{
			Currency: "USD",
			Basis:    BasisMax,
			TimeZone: "UTC",
			// OpenCost's default prices.
			Prices: Prices{CPUCoreHour: 0.031611, MemoryGiBHour: 0.004237, StorageGiBMonth: 0.04},
			// Hours per service and instances' totals for this and the
			// previous month, days per service for a year.
			Retention: SpendRetention{HourlyMonths: 2, Months: 12},
		},
		Release: Release{
			ProgressDeadline: Duration(10 * time.Minute),
			AutoRollback:     true,
			HistoryLimit:     10,
		},
	}
}

// DefaultProject is the project of a workload or target that names none.
const DefaultProject = "default"

func defaultWorkload() Workload {
	one := 1
	return Workload{
		Project:       DefaultProject,
		Replicas:      &one,
		RestartPolicy: RestartAlways,
		GracePeriod:   Duration(30 * time.Second),
	}
}

// defaultLeaderElection has the times client-go's own controllers use.
func defaultLeaderElection() LeaderElection {
	return LeaderElection{
		LeaseDuration: Duration(15 * time.Second),
		RenewDeadline: Duration(10 * time.Second),
		RetryPeriod:   Duration(2 * time.Second),
	}
}

// defaultProbe has the kubelet's probe defaults.
func defaultProbe() Probe {
	return Probe{
		InitialDelaySeconds: 0,
		PeriodSeconds:       10,
		TimeoutSeconds:      1,
		SuccessThreshold:    1,
		FailureThreshold:    3,
	}
}

func defaultHTTPProbe() HTTPProbe {
	return HTTPProbe{Path: "/", Scheme: "HTTP"}
}

func defaultSink() Sink {
	return Sink{
		Buffer: SinkBuffer{MaxBytes: 1 * GiB},
		Batch:  SinkBatch{MaxEvents: 1000, MaxBytes: 1 * MiB, Timeout: Duration(time.Second)},
	}
}

// defaultAutoscalingPolicy has the autoscaling/v2 HPA defaults.
func defaultAutoscalingPolicy() AutoscalingPolicy {
	return AutoscalingPolicy{
		MinReplicas: 1,
		Metrics:     []Metric{{Resource: ResourceCPU, TargetUtilization: 80}},
		Behavior: Behavior{
			ScaleUp: ScalingRules{
				StabilizationWindowSeconds: 0,
				SelectPolicy:               SelectMax,
				Policies: []ScalingPolicy{
					{Type: ScalingPods, Value: 4, PeriodSeconds: 15},
					{Type: ScalingPercent, Value: 100, PeriodSeconds: 15},
				},
			},
			ScaleDown: ScalingRules{
				StabilizationWindowSeconds: 300,
				SelectPolicy:               SelectMax,
				Policies: []ScalingPolicy{
					{Type: ScalingPercent, Value: 100, PeriodSeconds: 15},
				},
			},
		},
	}
}

// defaultFlow queues a run started while another runs: two rollouts of the
// same services racing each other is rarely what anyone wants.
func defaultFlow() Flow {
	return Flow{Concurrency: ConcurrencyQueue}
}

// defaultTargetProject is the project of an autoscaling target or deploy
// step that names only a service: on platform kind local, the project of the
// only workload with that name; otherwise DefaultProject. Users address
// services by name alone on the command line too (`opshub deploy web`).
func defaultTargetProject(c *Config, service string) string {
	project := ""
	if c.Platform.Kind == PlatformLocal {
		for _, w := range c.Workloads {
			if w.Name != service {
				continue
			}
			if project != "" {
				return DefaultProject // ambiguous: the user must say which
			}
			project = w.Project
		}
	}
	if project == "" {
		return DefaultProject
	}
	return project
}

// defaultVolumePath is where a volume lives when its path is not given.
func defaultVolumePath(dataDir, project, workload, volume string) string {
	return filepath.Join(dataDir, "volumes", project, workload, volume)
}

// newValue returns a pointer to the starting value of a t: its default when
// it has one, else its zero value.
func newValue(t reflect.Type) reflect.Value {
	var v any
	switch t {
	case reflect.TypeFor[Workload]():
		v = defaultWorkload()
	case reflect.TypeFor[LeaderElection]():
		v = defaultLeaderElection()
	case reflect.TypeFor[Probe]():
		v = defaultProbe()
	case reflect.TypeFor[HTTPProbe]():
		v = defaultHTTPProbe()
	case reflect.TypeFor[Sink]():
		v = defaultSink()
	case reflect.TypeFor[AutoscalingPolicy]():
		v = defaultAutoscalingPolicy()
	case reflect.TypeFor[Flow]():
		v = defaultFlow()
	case reflect.TypeFor[GitTrigger]():
		v = GitTrigger{PollInterval: Duration(time.Minute)}
	case reflect.TypeFor[Continuous]():
		v = Continuous{Project: DefaultProject, ImageWatch: ImageWatch{PollInterval: Duration(time.Minute)}}
	case reflect.TypeFor[ImageTrigger]():
		v = ImageTrigger{ImageWatch: ImageWatch{PollInterval: Duration(time.Minute)}}
	case reflect.TypeFor[JobTemplate]():
		v = JobTemplate{Project: DefaultProject}
	default:
		return reflect.New(t)
	}
	p := reflect.New(t)
	p.Elem().Set(reflect.ValueOf(v))
	return p
}
