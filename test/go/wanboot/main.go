// wanboot: one "public internet" node for the WAN test lab. It plays the part
// of a public IPFS node as Go EdgeVPN meets it on the Amino DHT: a kad-dht
// server (/ipfs/kad/1.0.0), a circuit relay v2 service with go-libp2p's
// default limits (2 minutes, 128 KiB per relayed connection, like Kubo) and
// an AutoNAT v1 service. Its identity comes from -seed, so peer IDs are known
// before it starts (`wanboot -seed N -id` prints the ID and exits).
//
// It logs JSON lines on stdout: "ready", "connected"/"disconnected" (peer,
// remote address, direction), "reserve"/"connect" (relay ACL decisions, all
// allowed), and "dht" for ADD_PROVIDER/GET_PROVIDERS requests.
//
// -dht-delay holds every DHT answer back (the hook runs before kad-dht's
// handler), standing in for the latency of the real DHT, since netem is not
// available: with instant answers a newcomer meets the edge through a relay
// before it knows its own public address (see docs/wan.md).
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"
)

var outMu sync.Mutex

func emit(event string, fields map[string]any) {
	fields["event"] = event
	line, _ := json.Marshal(fields)
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Println(string(line))
}

func identity(seed string) crypto.PrivKey {
	sum := sha256.Sum256([]byte("kairosctl-wanboot/" + seed))
	key, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(sum[:]))
	if err != nil {
		panic(err)
	}
	return key
}

type logACL struct{}

func (logACL) AllowReserve(p peer.ID, a ma.Multiaddr) bool {
	emit("reserve", map[string]any{"peer": p.String(), "addr": a.String()})
	return true
}

func (logACL) AllowConnect(src peer.ID, srcAddr ma.Multiaddr, dest peer.ID) bool {
	emit("connect", map[string]any{"src": src.String(), "addr": srcAddr.String(), "dest": dest.String()})
	return true
}

func main() {
	seed := flag.String("seed", "", "identity seed (any string; same seed, same peer ID)")
	printID := flag.Bool("id", false, "print the peer ID for -seed and exit")
	ip := flag.String("ip", "", "IPv4 address to listen on")
	port := flag.Int("port", 4001, "TCP and UDP (QUIC) port")
	peers := flag.String("peers", "", "comma-separated multiaddrs (with /p2p/) of the other public nodes")
	dhtDelay := flag.Duration("dht-delay", 0, "wait this long before answering each DHT request (internet latency; there is no netem here)")
	tcpOnly := flag.Bool("tcp-only", false, "listen on TCP only (no QUIC), like the part of the public DHT without QUIC")
	flag.Parse()
	if *seed == "" {
		fmt.Fprintln(os.Stderr, "wanboot: -seed is required")
		os.Exit(2)
	}
	priv := identity(*seed)
	if *printID {
		id, _ := peer.IDFromPrivateKey(priv)
		fmt.Println(id.String())
		return
	}
	if *ip == "" {
		fmt.Fprintln(os.Stderr, "wanboot: -ip is required")
		os.Exit(2)
	}

	listen := []string{fmt.Sprintf("/ip4/%s/tcp/%d", *ip, *port)}
	if !*tcpOnly {
		listen = append(listen, fmt.Sprintf("/ip4/%s/udp/%d/quic-v1", *ip, *port))
	}
	h, err := libp2p.New(
		libp2p.Identity(priv),
		libp2p.ListenAddrStrings(listen...),
		libp2p.ForceReachabilityPublic(),
		libp2p.EnableRelayService(relayv2.WithACL(logACL{})),
		libp2p.EnableNATService(),
		libp2p.UserAgent("kctl-wanboot"),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wanboot:", err)
		os.Exit(1)
	}
	h.Network().Notify(&network.NotifyBundle{
		ConnectedF: func(_ network.Network, c network.Conn) {
			emit("connected", map[string]any{"peer": c.RemotePeer().String(), "remote": c.RemoteMultiaddr().String(), "dir": c.Stat().Direction.String()})
		},
		DisconnectedF: func(_ network.Network, c network.Conn) {
			emit("disconnected", map[string]any{"peer": c.RemotePeer().String(), "remote": c.RemoteMultiaddr().String()})
		},
	})

	var bootstrap []peer.AddrInfo
	for _, s := range strings.Split(*peers, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		info, err := peer.AddrInfoFromString(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wanboot: bad peer", s, err)
			os.Exit(2)
		}
		if info.ID != h.ID() {
			bootstrap = append(bootstrap, *info)
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	kad, err := dht.New(ctx, h,
		dht.Mode(dht.ModeServer),
		dht.BootstrapPeers(bootstrap...),
		dht.OnRequestHook(func(_ context.Context, s network.Stream, req *pb.Message) {
			time.Sleep(*dhtDelay)
			t := req.GetType()
			if t != pb.Message_ADD_PROVIDER && t != pb.Message_GET_PROVIDERS {
				return
			}
			var addrs []string
			for _, p := range req.GetProviderPeers() {
				for _, a := range p.Addresses() {
					addrs = append(addrs, a.String())
				}
			}
			emit("dht", map[string]any{"type": t.String(), "from": s.Conn().RemotePeer().String(), "key": fmt.Sprintf("%x", req.GetKey()), "addrs": addrs})
		}),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wanboot: dht:", err)
		os.Exit(1)
	}
	defer kad.Close()
	for _, info := range bootstrap {
		go func(info peer.AddrInfo) { _ = h.Connect(ctx, info) }(info)
	}
	var addrs []string
	for _, a := range h.Addrs() {
		addrs = append(addrs, a.String())
	}
	emit("ready", map[string]any{"id": h.ID().String(), "addrs": addrs})
	<-ctx.Done()
	_ = h.Close()
}
