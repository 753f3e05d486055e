// Command kube-apiserver-local runs an embedded etcd and a real
// kube-apiserver (k8s.io/kubernetes/cmd/kube-apiserver/app) in one process,
// bound to 127.0.0.1 only, as a test bed for le.h.
//
// Everything it needs (CA, serving certificate, service-account keys, static
// tokens, etcd data) lives in one state directory and is generated on first
// start and reused afterwards, so Leases survive a restart.
//
// When /readyz answers 200 it bootstraps the RBAC objects used by the tests,
// writes <state>/env and prints "ready <url>" on stdout.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/component-base/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

const (
	serviceCIDR    = "10.96.0.0/12"
	serviceFirstIP = "10.96.0.1"
	saIssuer       = "https://kubernetes.default.svc.cluster.local"
	apiAudiences   = "https://kubernetes.default.svc.cluster.local,https://kubernetes.default.svc,kubernetes"

	// LeaseRoleName is the ClusterRole bound to le-user (and to service
	// accounts created by "le-peer token").
	leaseRoleName = "le-lease-editor"
)

type options struct {
	state        string
	securePort   int
	etcdPort     int
	etcdPeerPort int
	verbosity    int
	noFsync      bool
	readyTimeout time.Duration
	extra        []string
}

func main() {
	var o options
	fs := flag.NewFlagSet("kube-apiserver-local", flag.ExitOnError)
	fs.StringVar(&o.state, "state", "state", "state directory (certificates, tokens, etcd data, env file)")
	fs.IntVar(&o.securePort, "secure-port", 16443, "HTTPS port of the API server on 127.0.0.1")
	fs.IntVar(&o.etcdPort, "etcd-port", 0, "etcd client port on 127.0.0.1 (0: reuse the one recorded in the state dir, else pick a free one)")
	fs.IntVar(&o.etcdPeerPort, "etcd-peer-port", 0, "etcd peer port on 127.0.0.1 (0: as for --etcd-port)")
	fs.IntVar(&o.verbosity, "v", 0, "kube-apiserver log verbosity")
	fs.BoolVar(&o.noFsync, "etcd-unsafe-no-fsync", false, "run etcd without fsync (faster writes; data survives process restarts but not machine crashes)")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", 120*time.Second, "give up if /readyz is not 200 within this time")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kube-apiserver-local [flags] [-- extra kube-apiserver flags]\n")
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	o.extra = fs.Args()

	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "kube-apiserver-local: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	state, err := filepath.Abs(o.state)
	if err != nil {
		return err
	}
	o.state = state
	if err := os.MkdirAll(state, 0o700); err != nil {
		return err
	}
	envPath := filepath.Join(state, "env")
	pidPath := filepath.Join(state, "pid")
	_ = os.Remove(envPath)

	// The command installs the SIGTERM/SIGINT handler; its context is
	// cancelled on the first signal, a second one exits at once.
	cmd := app.NewAPIServerCommand()
	ctx := cmd.Context()

	if err := os.WriteFile(pidPath, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(pidPath)
	defer os.Remove(envPath)

	if err := checkRelease(state); err != nil {
		return err
	}
	m, err := prepareState(state)
	if err != nil {
		return err
	}

	etcd, etcdURL, err := startEtcd(o)
	if err != nil {
		return err
	}
	defer func() {
		etcd.Close()
		fmt.Fprintln(os.Stderr, "kube-apiserver-local: etcd stopped")
	}()

	args := []string{
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", o.securePort),
		"--tls-cert-file=" + m.serverCert,
		"--tls-private-key-file=" + m.serverKey,
		"--client-ca-file=" + m.caCert,
		"--etcd-servers=" + etcdURL,
		"--authorization-mode=RBAC",
		"--token-auth-file=" + m.tokenCSV,
		"--service-account-key-file=" + m.saPub,
		"--service-account-signing-key-file=" + m.saKey,
		"--service-account-issuer=" + saIssuer,
		"--api-audiences=" + apiAudiences,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--endpoint-reconciler-type=none",
		"--disable-admission-plugins=ServiceAccount",
		"--profiling=false",
		// Lease spec.strategy and spec.preferredHolder are dropped on write
		// unless this gate is on; with it, tests can check that electors
		// preserve them.
		"--feature-gates=CoordinatedLeaderElection=true",
		"--runtime-config=coordination.k8s.io/v1beta1=true",
		"--cert-dir=" + filepath.Join(state, "apiserver-certs"),
		fmt.Sprintf("--v=%d", o.verbosity),
	}
	args = append(args, o.extra...)
	cmd.SetArgs(args)

	url := fmt.Sprintf("https://127.0.0.1:%d", o.securePort)
	go func() {
		if err := whenReady(ctx, o, m, url, envPath); err != nil {
			if ctx.Err() != nil {
				return
			}
			fmt.Fprintf(os.Stderr, "kube-apiserver-local: %v\n", err)
			// Nothing useful can happen without the bootstrap: stop.
			p, _ := os.FindProcess(os.Getpid())
			_ = p.Signal(os.Interrupt)
		}
	}()

	start := time.Now()
	err = cmd.Execute()
	fmt.Fprintf(os.Stderr, "kube-apiserver-local: apiserver stopped after %s (err=%v)\n", time.Since(start).Round(time.Millisecond), err)
	_ = os.Remove(envPath)
	return err
}

// checkRelease keeps one state dir to one Kubernetes minor release: etcd
// refuses data written by a newer etcd, and skipping minor releases is no
// supported upgrade, so a state dir used by another release is an error
// that says what to do, not a server that fails half way. A state dir
// without the record (made before it existed) is taken as this release's.
func checkRelease(dir string) error {
	rec := filepath.Join(dir, "kube-release")
	if b, err := os.ReadFile(rec); err == nil {
		if had := strings.TrimSpace(string(b)); had != version.DefaultKubeBinaryVersion {
			return fmt.Errorf("state dir %s holds the data of Kubernetes %s, this is %s: "+
				"use the state dir of this release (tools/kube/versions.sh; LE_KUBE_VERSION selects it) "+
				"or delete %s", dir, had, version.DefaultKubeBinaryVersion, dir)
		}
		return nil
	}
	return os.WriteFile(rec, []byte(version.DefaultKubeBinaryVersion+"\n"), 0o644)
}

// material holds the paths of the generated files in the state directory.
type material struct {
	caCert, caKey         string
	serverCert, serverKey string
	userCert, userKey     string
	saKey, saPub          string
	tokenCSV              string
	adminToken            string
	userToken             string
	norbacToken           string
	kubeconfig            string
}

func prepareState(dir string) (*material, error) {
	m := &material{
		caCert:      filepath.Join(dir, "ca.crt"),
		caKey:       filepath.Join(dir, "ca.key"),
		serverCert:  filepath.Join(dir, "apiserver.crt"),
		serverKey:   filepath.Join(dir, "apiserver.key"),
		userCert:    filepath.Join(dir, "user.crt"),
		userKey:     filepath.Join(dir, "user.key"),
		saKey:       filepath.Join(dir, "sa.key"),
		saPub:       filepath.Join(dir, "sa.pub"),
		tokenCSV:    filepath.Join(dir, "tokens.csv"),
		adminToken:  filepath.Join(dir, "admin.token"),
		userToken:   filepath.Join(dir, "user.token"),
		norbacToken: filepath.Join(dir, "norbac.token"),
		kubeconfig:  filepath.Join(dir, "kubeconfig"),
	}
	if err := ensureCA(m); err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	if err := ensureServing(m); err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	if err := ensureClientCert(m); err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	if err := ensureSAKeys(m); err != nil {
		return nil, fmt.Errorf("service-account keys: %w", err)
	}
	if err := ensureTokens(m); err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return m, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	return x509.ParseECPrivateKey(blk.Bytes)
}

func writeCert(path string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

func ensureCA(m *material) error {
	if exists(m.caCert) && exists(m.caKey) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "le-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	// A new CA invalidates any certificate signed by an old one.
	_ = os.Remove(m.serverCert)
	_ = os.Remove(m.userCert)
	if err := writeKey(m.caKey, key); err != nil {
		return err
	}
	return writeCert(m.caCert, der)
}

// issue signs tmpl for a new P-256 key with the CA and writes both files.
func issue(m *material, tmpl *x509.Certificate, certPath, keyPath string) error {
	caKey, err := readKey(m.caKey)
	if err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(m.caCert, m.caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writeKey(keyPath, key); err != nil {
		return err
	}
	return writeCert(certPath, der)
}

// ensureClientCert issues a client certificate for le-user (CN is the user
// name), accepted through --client-ca-file.
func ensureClientCert(m *material) error {
	if exists(m.userCert) && exists(m.userKey) {
		return nil
	}
	now := time.Now()
	return issue(m, &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "le-user"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, m.userCert, m.userKey)
}

func ensureServing(m *material) error {
	if exists(m.serverCert) && exists(m.serverKey) {
		return nil
	}
	now := time.Now()
	return issue(m, &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{
			"localhost", "kubernetes", "kubernetes.default",
			"kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
		},
		IPAddresses: []net.IP{
			net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP(serviceFirstIP),
		},
	}, m.serverCert, m.serverKey)
}

func ensureSAKeys(m *material) error {
	if exists(m.saKey) && exists(m.saPub) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := writeKey(m.saKey, key); err != nil {
		return err
	}
	return os.WriteFile(m.saPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// readOrCreateToken returns the token stored in path, creating it if needed.
func readOrCreateToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	}
	t := randomToken()
	return t, os.WriteFile(path, []byte(t+"\n"), 0o600)
}

func ensureTokens(m *material) error {
	admin, err := readOrCreateToken(m.adminToken)
	if err != nil {
		return err
	}
	user, err := readOrCreateToken(m.userToken)
	if err != nil {
		return err
	}
	norbac, err := readOrCreateToken(m.norbacToken)
	if err != nil {
		return err
	}
	// Static token file format: token,user,uid,"group1,group2"
	csv := fmt.Sprintf("%s,le-admin,le-admin,\"system:masters\"\n"+
		"%s,le-user,le-user,\"system:authenticated\"\n"+
		"%s,le-norbac,le-norbac\n", admin, user, norbac)
	return os.WriteFile(m.tokenCSV, []byte(csv), 0o600)
}

// etcd ---------------------------------------------------------------------

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// etcdPorts picks the client and peer ports: explicit flags win, else the
// ports recorded in the state dir (so a restart looks the same to etcd), else
// free ones.
func etcdPorts(o options) (int, int, error) {
	rec := filepath.Join(o.state, "etcd-ports")
	client, peer := o.etcdPort, o.etcdPeerPort
	if b, err := os.ReadFile(rec); err == nil {
		var c, p int
		if n, _ := fmt.Sscanf(string(b), "%d %d", &c, &p); n == 2 {
			if client == 0 && portFree(c) {
				client = c
			}
			if peer == 0 && portFree(p) {
				peer = p
			}
		}
	}
	var err error
	for client == 0 || peer == 0 || client == peer {
		if client == 0 {
			if client, err = freePort(); err != nil {
				return 0, 0, err
			}
		}
		if peer == 0 || peer == client {
			if peer, err = freePort(); err != nil {
				return 0, 0, err
			}
		}
	}
	return client, peer, os.WriteFile(rec, []byte(fmt.Sprintf("%d %d\n", client, peer)), 0o644)
}

func startEtcd(o options) (*embed.Etcd, string, error) {
	cport, pport, err := etcdPorts(o)
	if err != nil {
		return nil, "", err
	}
	curl, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", cport))
	purl, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", pport))

	cfg := embed.NewConfig()
	cfg.Name = "le-etcd"
	cfg.Dir = filepath.Join(o.state, "etcd")
	cfg.ListenClientUrls = []url.URL{*curl}
	cfg.AdvertiseClientUrls = []url.URL{*curl}
	cfg.ListenPeerUrls = []url.URL{*purl}
	cfg.AdvertisePeerUrls = []url.URL{*purl}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{filepath.Join(o.state, "etcd.log")}
	cfg.EnableGRPCGateway = false
	cfg.UnsafeNoFsync = o.noFsync
	// NewConfig leaves this at 0, which logs every request as slow.
	cfg.WarningUnaryRequestDuration = embed.DefaultWarningUnaryRequestDuration
	// A single member elects itself after one election timeout; keep it short.
	cfg.TickMs = 20
	cfg.ElectionMs = 200

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, "", fmt.Errorf("etcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, "", errors.New("etcd did not become ready within 60s")
	}
	fmt.Fprintf(os.Stderr, "kube-apiserver-local: etcd ready on %s (data %s)\n", curl, cfg.Dir)
	return e, curl.String(), nil
}

// readiness and bootstrap --------------------------------------------------

func whenReady(ctx context.Context, o options, m *material, server, envPath string) error {
	start := time.Now()
	adminTok, err := readOrCreateToken(m.adminToken)
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(m.caCert)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	deadline := time.Now().Add(o.readyTimeout)
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/readyz not 200 after %s", o.readyTimeout)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+adminTok)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	readyAfter := time.Since(start)

	cfg := &rest.Config{
		Host:            server,
		BearerToken:     adminTok,
		TLSClientConfig: rest.TLSClientConfig{CAFile: m.caCert},
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := bootstrap(ctx, cs); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := writeKubeconfig(m, server, adminTok); err != nil {
		return err
	}
	env := strings.Join([]string{
		"LE_SERVER=" + server,
		"LE_CA=" + m.caCert,
		"LE_ADMIN_TOKEN_FILE=" + m.adminToken,
		"LE_USER_TOKEN_FILE=" + m.userToken,
		"LE_NORBAC_TOKEN_FILE=" + m.norbacToken,
		"LE_KUBECONFIG=" + m.kubeconfig,
		"LE_USER_CERT=" + m.userCert,
		"LE_USER_KEY=" + m.userKey,
		"LE_STATE_DIR=" + o.state,
		// the release this server is (its /version), and the directory of
		// the le-peer and kubectl built from the same release
		"LE_KUBE_RELEASE=" + version.Get().GitVersion,
		"LE_KUBE_BIN=" + binDir(),
		"LE_APISERVER_PID=" + strconv.Itoa(os.Getpid()),
		"",
	}, "\n")
	tmp := envPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(env), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, envPath); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "kube-apiserver-local: ready after %s (readyz %s)\n",
		time.Since(start).Round(time.Millisecond), readyAfter.Round(time.Millisecond))
	fmt.Fprintf(os.Stdout, "ready %s\n", server)
	return nil
}

// binDir is the directory of this executable, where build.sh puts le-peer
// and kubectl of the same release.
func binDir() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	return filepath.Dir(exe)
}

func bootstrap(ctx context.Context, cs kubernetes.Interface) error {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: leaseRoleName},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"coordination.k8s.io"},
			Resources: []string{"leases"},
			Verbs:     []string{"get", "list", "watch", "create", "update"},
		}},
	}
	if err := apply(ctx, func() error {
		_, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
		return err
	}, func() error {
		cur, err := cs.RbacV1().ClusterRoles().Get(ctx, role.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Rules = role.Rules
		_, err = cs.RbacV1().ClusterRoles().Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		return err
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "le-test"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}

	for _, n := range []string{"default", "le-test"} {
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "le-user-leases", Namespace: n},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: leaseRoleName},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "le-user"}},
		}
		if _, err := cs.RbacV1().RoleBindings(n).Create(ctx, rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

// apply creates an object, falling back to update when it already exists.
// Both are retried for a short while, as some bootstrap controllers may
// still be settling right after /readyz.
func apply(ctx context.Context, create, update func() error) error {
	var err error
	for i := 0; i < 20; i++ {
		err = create()
		if apierrors.IsAlreadyExists(err) {
			err = update()
		}
		if err == nil || ctx.Err() != nil {
			return err
		}
		time.Sleep(250 * time.Millisecond)
	}
	return err
}

func writeKubeconfig(m *material, server, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["le"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: m.caCert}
	cfg.AuthInfos["le-admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["le"] = &clientcmdapi.Context{Cluster: "le", AuthInfo: "le-admin", Namespace: "default"}
	cfg.CurrentContext = "le"
	return clientcmd.WriteToFile(*cfg, m.kubeconfig)
}
