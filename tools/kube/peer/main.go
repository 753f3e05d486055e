// Command le-peer is a leader-election peer built on client-go's own
// k8s.io/client-go/tools/leaderelection with a LeaseLock. It is the
// reference implementation le.h is tested against.
//
// Subcommands:
//
//	le-peer [run] [flags]   take part in an election, print JSON events
//	le-peer get   [flags]   read a Lease via the typed client and LeaseLock.Get
//	le-peer token [flags]   create a ServiceAccount (+RoleBinding), print a TokenRequest token
//	le-peer delete-sa [flags]
//	le-peer readyz [flags]  exit 0 if the API server's /readyz is 200
//
// Every event line carries "t", CLOCK_MONOTONIC in nanoseconds, so it can be
// compared with timestamps taken by C processes on the same machine.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// leaseRoleName must match the ClusterRole created by kube-apiserver-local.
const leaseRoleName = "le-lease-editor"

func usage() {
	fmt.Fprint(os.Stderr, `usage: le-peer [run] [flags]      take part in a Lease election
       le-peer get [flags]        print a Lease and its decoded LeaderElectionRecord
       le-peer token --sa NAME [--namespace NS] [--duration 600s]
       le-peer delete-sa --sa NAME [--namespace NS]
       le-peer readyz [flags]
run "le-peer SUBCOMMAND -h" for the flags of each.
`)
}

func main() {
	args := os.Args[1:]
	sub := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	var err error
	switch sub {
	case "run":
		err = cmdRun(args)
	case "get":
		err = cmdGet(args)
	case "token":
		err = cmdToken(args)
	case "delete-sa":
		err = cmdDeleteSA(args)
	case "readyz":
		err = cmdReadyz(args)
	case "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "le-peer %s: %v\n", sub, err)
		var ec exitCode
		if errors.As(err, &ec) {
			os.Exit(int(ec))
		}
		os.Exit(1)
	}
}

type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// connection flags -----------------------------------------------------------

type conn struct {
	kubeconfig, server, ca, tokenFile string
	timeout                           time.Duration
}

func (c *conn) register(fs *flag.FlagSet) {
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $LE_KUBECONFIG, else <dir of binary>/../state/kubeconfig)")
	fs.StringVar(&c.server, "server", "", "API server URL (with --ca and --token-file, instead of a kubeconfig)")
	fs.StringVar(&c.ca, "ca", "", "CA certificate file for --server")
	fs.StringVar(&c.tokenFile, "token-file", "", "bearer token file for --server (re-read by client-go when it changes)")
	fs.DurationVar(&c.timeout, "request-timeout", 0, "timeout of each HTTP request (0: none)")
}

func (c *conn) config() (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if c.server != "" {
		cfg = &rest.Config{Host: c.server, BearerTokenFile: c.tokenFile}
		cfg.TLSClientConfig.CAFile = c.ca
	} else {
		path := c.kubeconfig
		if path == "" {
			path = os.Getenv("LE_KUBECONFIG")
		}
		if path == "" {
			if exe, e := os.Executable(); e == nil {
				path = filepath.Join(filepath.Dir(exe), "..", "state", "kubeconfig")
			}
		}
		cfg, err = clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, err
		}
		if c.tokenFile != "" {
			cfg.BearerToken, cfg.BearerTokenFile = "", c.tokenFile
		}
	}
	cfg.Timeout = c.timeout
	cfg.UserAgent = "le-peer"
	return cfg, nil
}

func (c *conn) client() (*kubernetes.Clientset, error) {
	cfg, err := c.config()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// event output ---------------------------------------------------------------

var outMu sync.Mutex

func monoNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return ts.Sec*1e9 + ts.Nsec
}

// emit writes one JSON line to stdout with one write(2), stamping it first.
func emit(id, ev string, fields map[string]any) {
	t := monoNow()
	var b strings.Builder
	fmt.Fprintf(&b, `{"t":%d,"id":%s,"ev":%s`, t, jsonString(id), jsonString(ev))
	for _, k := range []string{"term", "leader", "was_leader", "holder", "err"} {
		if v, ok := fields[k]; ok {
			vb, _ := json.Marshal(v)
			fmt.Fprintf(&b, ",%s:%s", jsonString(k), vb)
		}
	}
	b.WriteString("}\n")
	outMu.Lock()
	_, _ = os.Stdout.WriteString(b.String())
	outMu.Unlock()
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// trackingLock wraps a resourcelock.Interface to learn what the elector last
// wrote (for the term number) and to report a release, which the elector
// performs as an Update with an empty holder.
type trackingLock struct {
	resourcelock.Interface
	id       string
	lastTerm atomic.Int32
	led      atomic.Bool
	// calls made through the lock, for --stats-every
	gets, creates, updates atomic.Int64
}

func (l *trackingLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	l.gets.Add(1)
	return l.Interface.Get(ctx)
}

func (l *trackingLock) Create(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	l.creates.Add(1)
	err := l.Interface.Create(ctx, r)
	if err == nil {
		l.lastTerm.Store(int32(r.LeaderTransitions))
	}
	return err
}

func (l *trackingLock) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	l.updates.Add(1)
	err := l.Interface.Update(ctx, r)
	if r.HolderIdentity == "" {
		if err != nil {
			emit(l.id, "release_failed", map[string]any{"err": err.Error()})
		} else {
			emit(l.id, "released", map[string]any{"term": r.LeaderTransitions})
		}
		return err
	}
	if err == nil {
		l.lastTerm.Store(int32(r.LeaderTransitions))
	}
	return err
}

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("le-peer run", flag.ExitOnError)
	var c conn
	c.register(fs)
	ns := fs.String("namespace", "default", "namespace of the Lease")
	name := fs.String("name", "le-test", "name of the Lease")
	host, _ := os.Hostname()
	id := fs.String("identity", fmt.Sprintf("%s_%d", host, os.Getpid()), "holder identity")
	leaseDur := fs.Duration("lease-duration", 15*time.Second, "LeaseDuration")
	renew := fs.Duration("renew-deadline", 10*time.Second, "RenewDeadline")
	retry := fs.Duration("retry-period", 2*time.Second, "RetryPeriod")
	rejoin := fs.Bool("rejoin", false, "after losing the lease, run for it again instead of exiting with status 3")
	verbosity := fs.Int("v", 0, "client-go log verbosity (klog, to stderr)")
	statsEvery := fs.Duration("stats-every", 0, "print a \"stats\" line (heap allocations from runtime.MemStats, lock calls) this often (0: never)")
	_ = fs.Parse(args)

	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	_ = klogFlags.Set("v", fmt.Sprint(*verbosity))

	cs, err := c.client()
	if err != nil {
		return err
	}
	base, err := resourcelock.New(resourcelock.LeasesResourceLock, *ns, *name,
		cs.CoreV1(), cs.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: *id})
	if err != nil {
		return err
	}
	if _, ok := base.(*resourcelock.LeaseLock); !ok {
		return fmt.Errorf("unexpected lock type %T", base)
	}
	lock := &trackingLock{Interface: base, id: *id}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	cfg := leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   *leaseDur,
		RenewDeadline:   *renew,
		RetryPeriod:     *retry,
		ReleaseOnCancel: true,
		Name:            *name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				lock.led.Store(true)
				emit(*id, "started", map[string]any{"term": lock.lastTerm.Load()})
				// client-go cancels this context the moment leadership
				// ends, before it tries to release: that is when the work
				// must stop, so that is the end of the interval.
				<-ctx.Done()
				emit(*id, "stopped", nil)
			},
			OnStoppedLeading: func() {
				// called after Run returns (after any release), even if
				// it never led
				emit(*id, "run_returned", map[string]any{"was_leader": lock.led.Load()})
			},
			OnNewLeader: func(leader string) {
				emit(*id, "new_leader", map[string]any{"leader": leader})
			},
		},
	}
	emit(*id, "running", nil)
	if *statsEvery > 0 {
		go statsLoop(ctx, lock, *statsEvery)
	}
	for {
		lock.led.Store(false)
		le, err := leaderelection.NewLeaderElector(cfg)
		if err != nil {
			return err
		}
		le.Run(ctx)
		if ctx.Err() != nil {
			emit(*id, "exit", nil)
			return nil
		}
		if !*rejoin {
			emit(*id, "exit", nil)
			return exitCode(3)
		}
	}
}

// statsLoop prints, every period, the process's heap allocation counters and
// the lock calls made since start, so a benchmark can divide the mallocs
// between two lines by the renews (Update calls) between them:
//
//	{"t":N,"id":"A","ev":"stats","mallocs":M,"frees":F,"total_alloc":B,
//	 "heap_alloc":H,"sys":S,"num_gc":G,"gets":n,"creates":n,"updates":n}
//
// The counters are read before the line is formatted, so the line's own
// allocations are counted in the next one.
func statsLoop(ctx context.Context, lock *trackingLock, every time.Duration) {
	tk := time.NewTicker(every)
	defer tk.Stop()
	var ms runtime.MemStats
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		runtime.ReadMemStats(&ms)
		gets, creates, updates := lock.gets.Load(), lock.creates.Load(), lock.updates.Load()
		t := monoNow()
		line := fmt.Sprintf(`{"t":%d,"id":%s,"ev":"stats","mallocs":%d,"frees":%d,"total_alloc":%d,`+
			`"heap_alloc":%d,"sys":%d,"num_gc":%d,"gets":%d,"creates":%d,"updates":%d}`+"\n",
			t, jsonString(lock.id), ms.Mallocs, ms.Frees, ms.TotalAlloc, ms.HeapAlloc, ms.Sys,
			ms.NumGC, gets, creates, updates)
		outMu.Lock()
		_, _ = os.Stdout.WriteString(line)
		outMu.Unlock()
	}
}

// get ------------------------------------------------------------------------

func cmdGet(args []string) error {
	fs := flag.NewFlagSet("le-peer get", flag.ExitOnError)
	var c conn
	c.register(fs)
	ns := fs.String("namespace", "default", "namespace of the Lease")
	name := fs.String("name", "le-test", "name of the Lease")
	_ = fs.Parse(args)

	cs, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	lease, err := cs.CoordinationV1().Leases(*ns).Get(ctx, *name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("typed client: %w", err)
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: *ns, Name: *name},
		Client:     cs.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: "le-peer-get"},
	}
	rec, raw, err := lock.Get(ctx)
	if err != nil {
		return fmt.Errorf("LeaseLock.Get: %w", err)
	}
	out := struct {
		Lease     any             `json:"lease"`
		Record    any             `json:"record"`
		RawRecord json.RawMessage `json:"rawRecord"`
	}{lease, rec, raw}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// token / delete-sa ------------------------------------------------------------

func saBindingName(sa string) string { return "le-sa-" + sa }

func cmdToken(args []string) error {
	fs := flag.NewFlagSet("le-peer token", flag.ExitOnError)
	var c conn
	c.register(fs)
	sa := fs.String("sa", "", "ServiceAccount name (required)")
	ns := fs.String("namespace", "default", "namespace")
	dur := fs.Duration("duration", 600*time.Second, "requested token lifetime (the API server's minimum is 10m)")
	aud := fs.String("audience", "", "comma-separated audiences (default: the API server's own)")
	_ = fs.Parse(args)
	if *sa == "" {
		return errors.New("--sa is required")
	}
	cs, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: *ns}}, metav1.CreateOptions{}); err != nil &&
		!apierrors.IsAlreadyExists(err) && !apierrors.IsForbidden(err) {
		return fmt.Errorf("namespace: %w", err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(*ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: *sa}}, metav1.CreateOptions{}); err != nil &&
		!apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("serviceaccount: %w", err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: saBindingName(*sa), Namespace: *ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: leaseRoleName},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: *sa, Namespace: *ns}},
	}
	if _, err := cs.RbacV1().RoleBindings(*ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("rolebinding: %w", err)
	}
	secs := int64(dur.Seconds())
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}
	if *aud != "" {
		tr.Spec.Audiences = strings.Split(*aud, ",")
	}
	res, err := cs.CoreV1().ServiceAccounts(*ns).CreateToken(ctx, *sa, tr, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("token request: %w", err)
	}
	fmt.Println(res.Status.Token)
	return nil
}

func cmdDeleteSA(args []string) error {
	fs := flag.NewFlagSet("le-peer delete-sa", flag.ExitOnError)
	var c conn
	c.register(fs)
	sa := fs.String("sa", "", "ServiceAccount name (required)")
	ns := fs.String("namespace", "default", "namespace")
	_ = fs.Parse(args)
	if *sa == "" {
		return errors.New("--sa is required")
	}
	cs, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cs.CoreV1().ServiceAccounts(*ns).Delete(ctx, *sa, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("serviceaccount: %w", err)
	}
	if err := cs.RbacV1().RoleBindings(*ns).Delete(ctx, saBindingName(*sa), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("rolebinding: %w", err)
	}
	return nil
}

// readyz -------------------------------------------------------------------------

func cmdReadyz(args []string) error {
	fs := flag.NewFlagSet("le-peer readyz", flag.ExitOnError)
	var c conn
	c.register(fs)
	_ = fs.Parse(args)
	if c.timeout == 0 {
		c.timeout = 5 * time.Second
	}
	cs, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return err
	}
	fmt.Println(strings.TrimSpace(string(body)))
	return nil
}
