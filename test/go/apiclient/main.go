// Command apiclient drives an EdgeVPN HTTP API through EdgeVPN's own Go client
// packages (api/client and api/client/service, v0.35.3), the way Kairos and
// the Go kairosctl use them, and prints what the client made of the answers.
// kairosctl's end-to-end tests run it against a Go node's API and against the
// API of `kairosctl bridge`, and compare.
//
// Usage (flags may appear anywhere; --api takes http://HOST:PORT or unix:///path):
//
//	apiclient --api A [--network-id kairos] report
//	    JSON: every read call of the client (Summary, Machines, Users, Services,
//	    Files, Ledger, Blockchain, GetBuckets, GetBucket, GetBucketKeys), the
//	    service client's Kairos reads (kubeconfig, master IP, AdvertizingNodes,
//	    ActiveNodes, role and IP per node), the peer lists the client has no
//	    method for (nodes, peerstore, dns) decoded into EdgeVPN's API types, and
//	    for every GET endpoint the HTTP status, the content type and whether the
//	    body decodes into EdgeVPN's type with unknown fields disallowed.
//	apiclient --api A put BUCKET KEY VALUE      client.Put (VALUE as a JSON string)
//	apiclient --api A put-file BUCKET KEY FILE  client.Put of FILE's contents (values too long for argv)
//	apiclient --api A get BUCKET KEY            client.GetBucketKey, decoded
//	apiclient --api A delete BUCKET KEY         client.Delete
//	apiclient --api A delete-bucket BUCKET      client.DeleteBucket
//	apiclient --api A set THING UUID VALUE      service Set (key UUID-THING in the network id's bucket)
//	apiclient --api A advertize UUID            service Advertize (UUID-uuid = {"Time": now})
//	    Each prints {"error": "..."} (empty when the call succeeded).
//	apiclient --api A get-kubeconfig            the Go kairosctl's get-kubeconfig: same calls, same output
//	apiclient --api A role list                 the Go kairosctl's role list: same calls, same output
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"

	"github.com/mudler/edgevpn/api"
	client "github.com/mudler/edgevpn/api/client"
	"github.com/mudler/edgevpn/api/client/service"
	apitypes "github.com/mudler/edgevpn/api/types"
	"github.com/mudler/edgevpn/pkg/blockchain"
	"github.com/mudler/edgevpn/pkg/types"
)

// call is one client call's outcome.
type call struct {
	Value interface{} `json:"value"`
	Error string      `json:"error"`
}

func outcome(v interface{}, err error) call {
	c := call{Value: v}
	if err != nil {
		c.Error = err.Error()
	}
	return c
}

// endpoint is what a GET endpoint answered, judged against EdgeVPN's type.
type endpoint struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	// Strict is the error decoding the body into EdgeVPN's type with unknown
	// fields disallowed and nothing after the value ("" when it decoded).
	Strict string `json:"strict"`
	Body   string `json:"body"`
	// Value is what the body decoded to (leniently, as the client decodes).
	Value interface{} `json:"value"`
}

type role struct {
	UUID string `json:"uuid"`
	Role string `json:"role"`
	IP   string `json:"ip"`
}

type report struct {
	Summary       call                `json:"summary"`
	Machines      call                `json:"machines"`
	Users         call                `json:"users"`
	Services      call                `json:"services"`
	Files         call                `json:"files"`
	Ledger        call                `json:"ledger"`
	Blockchain    call                `json:"blockchain"`
	Buckets       call                `json:"buckets"`
	Bucket        call                `json:"bucket"`
	BucketKeys    call                `json:"bucket_keys"`
	Kubeconfig    call                `json:"kubeconfig"`
	KubeconfigRaw string              `json:"kubeconfig_decoded"`
	MasterIP      call                `json:"master_ip"`
	Advertizing   call                `json:"advertizing"`
	ActiveNodes   call                `json:"active_nodes"`
	Roles         []role              `json:"roles"`
	Nodes         call                `json:"nodes"`
	Peerstore     call                `json:"peerstore"`
	DNS           call                `json:"dns"`
	Endpoints     map[string]endpoint `json:"endpoints"`
}

type options struct {
	api       string
	networkID string
	args      []string
}

func parseArgs(argv []string) (options, error) {
	o := options{networkID: "kairos"}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		var name, value string
		switch {
		case strings.HasPrefix(a, "--") && strings.Contains(a, "="):
			name, value, _ = strings.Cut(a[2:], "=")
		case a == "--api" || a == "--network-id":
			if i+1 >= len(argv) {
				return o, fmt.Errorf("%s needs a value", a)
			}
			name, value = a[2:], argv[i+1]
			i++
		default:
			o.args = append(o.args, a)
			continue
		}
		switch name {
		case "api":
			o.api = value
		case "network-id":
			o.networkID = value
		default:
			return o, fmt.Errorf("unknown flag --%s", name)
		}
	}
	if o.api == "" {
		return o, fmt.Errorf("--api is required")
	}
	if len(o.args) == 0 {
		return o, fmt.Errorf("a command is required")
	}
	return o, nil
}

// httpClient reaches the API as client.WithHost does (unix:// dials the socket).
func httpClient(apiAddr string) (*http.Client, string) {
	if strings.HasPrefix(apiAddr, client.UnixSocketScheme) {
		socket := strings.TrimPrefix(apiAddr, client.UnixSocketScheme)
		return &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socket)
			},
		}}, "http://unix"
	}
	return &http.Client{}, strings.TrimSuffix(apiAddr, "/")
}

// rawGet fetches a path and decodes it into target (a pointer), strictly.
func rawGet(apiAddr, path string, target interface{}) endpoint {
	hc, base := httpClient(apiAddr)
	res, err := hc.Get(base + path)
	if err != nil {
		return endpoint{Strict: err.Error()}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	e := endpoint{Status: res.StatusCode, ContentType: res.Header.Get("Content-Type"), Body: string(body)}
	if err != nil {
		e.Strict = err.Error()
		return e
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		e.Strict = err.Error()
	} else if _, err := dec.Token(); err != io.EOF {
		e.Strict = "data after the JSON value"
	}
	_ = json.Unmarshal(body, target)
	e.Value = target
	return e
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

func runReport(o options) report {
	c := client.NewClient(client.WithHost(o.api))
	cc := service.NewClient(o.networkID, c)
	r := report{Endpoints: map[string]endpoint{}}

	r.Summary = outcome(c.Summary())
	r.Machines = outcome(c.Machines())
	r.Users = outcome(c.Users())
	r.Services = outcome(c.Services())
	r.Files = outcome(c.Files())
	r.Ledger = outcome(c.Ledger())
	r.Blockchain = outcome(c.Blockchain())
	buckets, err := c.GetBuckets()
	r.Buckets = outcome(sorted(buckets), err)
	r.Bucket = outcome(c.GetBucket(o.networkID))
	keys, err := c.GetBucketKeys(o.networkID)
	r.BucketKeys = outcome(sorted(keys), err)

	kubeconfig, err := cc.Get("kubeconfig", "master")
	r.Kubeconfig = outcome(kubeconfig, err)
	decoded, _ := base64.RawURLEncoding.DecodeString(kubeconfig)
	r.KubeconfigRaw = string(decoded)
	r.MasterIP = outcome(cc.Get("master", "ip"))
	advertizing, err := cc.AdvertizingNodes()
	r.Advertizing = outcome(sorted(advertizing), err)
	active, err := cc.ActiveNodes()
	r.ActiveNodes = outcome(sorted(active), err)
	r.Roles = []role{}
	for _, uuid := range sorted(advertizing) {
		rl, _ := cc.Get("role", uuid)
		ip, _ := cc.Get("ip", uuid)
		r.Roles = append(r.Roles, role{UUID: uuid, Role: rl, IP: ip})
	}

	var nodes, peerstore []apitypes.Peer
	r.Endpoints["nodes"] = rawGet(o.api, api.NodesURL, &nodes)
	r.Nodes = outcome(nodes, strictErr(r.Endpoints["nodes"]))
	r.Endpoints["peerstore"] = rawGet(o.api, api.PeerstoreURL, &peerstore)
	r.Peerstore = outcome(peerstore, strictErr(r.Endpoints["peerstore"]))
	var dns []apitypes.DNS
	r.Endpoints["dns"] = rawGet(o.api, api.DNSURL, &dns)
	r.DNS = outcome(dns, strictErr(r.Endpoints["dns"]))

	r.Endpoints["summary"] = rawGet(o.api, api.SummaryURL, new(types.Summary))
	r.Endpoints["machines"] = rawGet(o.api, api.MachineURL, new([]apitypes.Machine))
	r.Endpoints["users"] = rawGet(o.api, api.UsersURL, new([]types.User))
	r.Endpoints["services"] = rawGet(o.api, api.ServiceURL, new([]types.Service))
	r.Endpoints["files"] = rawGet(o.api, api.FileURL, new([]types.File))
	r.Endpoints["ledger"] = rawGet(o.api, api.LedgerURL, new(map[string]map[string]blockchain.Data))
	r.Endpoints["blockchain"] = rawGet(o.api, api.BlockchainURL, new(blockchain.Block))
	r.Endpoints["bucket"] = rawGet(o.api, api.LedgerURL+"/"+o.networkID, new(map[string]blockchain.Data))
	r.Endpoints["missing_bucket"] = rawGet(o.api, api.LedgerURL+"/no-such-bucket", new(map[string]blockchain.Data))
	r.Endpoints["key"] = rawGet(o.api, api.LedgerURL+"/"+o.networkID+"/ip-master", new(string))
	r.Endpoints["missing_key"] = rawGet(o.api, api.LedgerURL+"/"+o.networkID+"/no-such-key", new(string))
	return r
}

func strictErr(e endpoint) error {
	if e.Strict != "" {
		return fmt.Errorf("%s", e.Strict)
	}
	if e.Status != http.StatusOK {
		return fmt.Errorf("HTTP %d", e.Status)
	}
	return nil
}

// getKubeconfig does what the Go kairosctl's get-kubeconfig does: read the
// master's kubeconfig (base64, URL alphabet, no padding) and its IP through
// the service client, errors ignored, and print the kubeconfig with the
// loopback address replaced by the master's.
func getKubeconfig(o options) {
	cc := service.NewClient(o.networkID, client.NewClient(client.WithHost(o.api)))
	encoded, _ := cc.Get("kubeconfig", "master")
	kubeconfig, _ := base64.RawURLEncoding.DecodeString(encoded)
	ip, _ := cc.Get("master", "ip")
	fmt.Println(strings.ReplaceAll(string(kubeconfig), "127.0.0.1", ip))
}

// roleList does what the Go kairosctl's role list does: the advertising nodes
// (map order, errors ignored), each with its role and IP, in fixed columns.
func roleList(o options) {
	cc := service.NewClient(o.networkID, client.NewClient(client.WithHost(o.api)))
	nodes, _ := cc.AdvertizingNodes()
	fmt.Printf("%-47s  %-30s  %-15s\n", "Node", "Role", "IP")
	fmt.Printf("%s  %s  %s\n", strings.Repeat("-", 47), strings.Repeat("-", 30), strings.Repeat("-", 15))
	for _, uuid := range nodes {
		rl, _ := cc.Get("role", uuid)
		ip, _ := cc.Get("ip", uuid)
		fmt.Printf("%-47s  %-30s  %-15s\n", uuid, rl, ip)
	}
}

func printJSON(v interface{}) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(os.Stderr, "apiclient:", err)
		os.Exit(1)
	}
}

func need(args []string, n int, usage string) {
	if len(args) != n {
		fmt.Fprintln(os.Stderr, "apiclient: usage:", usage)
		os.Exit(2)
	}
}

func main() {
	o, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "apiclient:", err)
		os.Exit(2)
	}
	c := client.NewClient(client.WithHost(o.api))
	cc := service.NewClient(o.networkID, c)
	a := o.args
	switch a[0] {
	case "report":
		printJSON(runReport(o))
	case "put":
		need(a, 4, "put BUCKET KEY VALUE")
		printJSON(outcome(nil, c.Put(a[1], a[2], a[3])))
	case "put-file":
		need(a, 4, "put-file BUCKET KEY FILE")
		value, err := os.ReadFile(a[3])
		if err == nil {
			err = c.Put(a[1], a[2], string(value))
		}
		printJSON(outcome(nil, err))
	case "get":
		need(a, 3, "get BUCKET KEY")
		data, err := c.GetBucketKey(a[1], a[2])
		var v interface{}
		if err == nil {
			err = data.Unmarshal(&v)
		}
		printJSON(outcome(v, err))
	case "delete":
		need(a, 3, "delete BUCKET KEY")
		printJSON(outcome(nil, c.Delete(a[1], a[2])))
	case "delete-bucket":
		need(a, 2, "delete-bucket BUCKET")
		printJSON(outcome(nil, c.DeleteBucket(a[1])))
	case "set":
		need(a, 4, "set THING UUID VALUE")
		printJSON(outcome(nil, cc.Set(a[1], a[2], a[3])))
	case "advertize":
		need(a, 2, "advertize UUID")
		printJSON(outcome(nil, cc.Advertize(a[1])))
	case "get-kubeconfig":
		getKubeconfig(o)
	case "role":
		need(a, 2, "role list")
		if a[1] != "list" {
			fmt.Fprintln(os.Stderr, "apiclient: only `role list` is supported")
			os.Exit(2)
		}
		roleList(o)
	default:
		fmt.Fprintln(os.Stderr, "apiclient: unknown command", a[0])
		os.Exit(2)
	}
}
