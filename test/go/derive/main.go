// Command derive prints, as JSON, what EdgeVPN's own Go packages make of a
// network token: the decoded configuration (through node.FromBase64), the
// gossip topic, seal key and DHT rendezvous at given unix times, and AES
// seals/unseals with crypto.AESSealer. kairosctl's parity tests compare their
// TypeScript results with this output.
//
// Input (stdin, JSON):
//
//	{"token": "<base64>", "times": [0, 9000],
//	 "seal": [{"key": "<md5 hex>", "plaintext": "foo"}],
//	 "unseal": [{"key": "<md5 hex>", "sealed": "<hex>"}]}
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/creachadair/otp"
	"github.com/mudler/edgevpn/pkg/crypto"
	"github.com/mudler/edgevpn/pkg/discovery"
	"github.com/mudler/edgevpn/pkg/node"
)

type request struct {
	Token  string    `json:"token"`
	Times  []int64   `json:"times"`
	Seal   []sealReq `json:"seal"`
	Unseal []sealReq `json:"unseal"`
}

type sealReq struct {
	Key       string `json:"key"`
	Plaintext string `json:"plaintext"`
	Sealed    string `json:"sealed"`
}

type derived struct {
	Unix       int64  `json:"unix"`
	Topic      string `json:"topic"`
	SealKey    string `json:"seal_key"`
	Rendezvous string `json:"rendezvous"`
}

type unsealResult struct {
	Plaintext string `json:"plaintext"`
	Error     string `json:"error,omitempty"`
}

// config is what node.FromBase64 copied into the node, DHT and mDNS settings.
type config struct {
	RoomName         string `json:"room"`
	ExchangeKey      string `json:"exchange_key"`
	SealKeyInterval  int    `json:"seal_key_interval,string"`
	SealKeyLength    int    `json:"seal_key_length"`
	MaxMessageSize   int    `json:"max_message_size"`
	DHTKey           string `json:"dht_key"`
	DHTInterval      int    `json:"dht_interval,string"`
	DHTLength        int    `json:"dht_length"`
	RendezvousString string `json:"rendezvous"`
	MDNS             string `json:"mdns"`
}

type response struct {
	Config config    `json:"config"`
	At     []derived `json:"at"`
	// Now holds the same values computed twice at the current wall-clock
	// second: with edgevpn's crypto.TOTP / DHT.Rendezvous themselves ("real")
	// and with the fixed-time construction used for "at" ("fixed"). Equal
	// values show the fixed-time construction reproduces edgevpn's.
	Now struct {
		Real  derived `json:"real"`
		Fixed derived `json:"fixed"`
	} `json:"now"`
	Sealed   []string       `json:"sealed"`
	Unsealed []unsealResult `json:"unsealed"`
}

// totpAt evaluates edgevpn's TOTP configuration (HMAC-SHA256 via
// creachadair/otp, base64 formatting cut to the requested length) with the
// time step pinned to unix/interval instead of read from the wall clock.
func totpAt(length, interval int, key string, unix int64) string {
	c := otp.Config{
		Hash:     sha256.New,
		Digits:   length,
		Key:      key,
		TimeStep: func() uint64 { return uint64(unix) / uint64(interval) },
		Format: func(mac []byte, n int) string {
			full := base64.StdEncoding.EncodeToString(mac)
			return full[:n]
		},
	}
	return c.TOTP()
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "derive: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fail("reading request: %v", err)
	}

	// Decode the token exactly as an edgevpn node does.
	cfg := &node.Config{}
	dht := discovery.NewDHT()
	mdns := &discovery.MDNS{}
	if err := node.FromBase64(true, true, req.Token, dht, mdns)(cfg); err != nil {
		fail("decoding token: %v", err)
	}
	// DHT.Run turns a zero OTP length into 12 before the first rendezvous.
	if dht.KeyLength == 0 {
		dht.KeyLength = 12
	}

	var res response
	res.Config = config{
		RoomName: cfg.RoomName, ExchangeKey: cfg.ExchangeKey,
		SealKeyInterval: cfg.SealKeyInterval, SealKeyLength: cfg.SealKeyLength, MaxMessageSize: cfg.MaxMessageSize,
		DHTKey: dht.OTPKey, DHTInterval: dht.OTPInterval, DHTLength: dht.KeyLength,
		RendezvousString: dht.RendezvousString, MDNS: mdns.DiscoveryServiceTag,
	}

	fixed := func(unix int64) derived {
		d := derived{
			Unix:    unix,
			Topic:   crypto.MD5(totpAt(cfg.SealKeyLength, cfg.SealKeyInterval, cfg.RoomName, unix)),
			SealKey: crypto.MD5(totpAt(cfg.SealKeyLength, cfg.SealKeyInterval, cfg.ExchangeKey, unix)),
		}
		if dht.OTPKey == "" {
			d.Rendezvous = dht.RendezvousString
		} else {
			d.Rendezvous = crypto.MD5(totpAt(dht.KeyLength, dht.OTPInterval, dht.OTPKey, unix))
		}
		return d
	}
	for _, t := range req.Times {
		res.At = append(res.At, fixed(t))
	}

	// The real, wall-clock functions (hub topicKey, node sealkey and
	// DHT.Rendezvous compute exactly these expressions), retried until the
	// second did not change while computing.
	for {
		before := time.Now().Unix()
		real := derived{
			Unix:       before,
			Topic:      crypto.MD5(crypto.TOTP(sha256.New, cfg.SealKeyLength, cfg.SealKeyInterval, cfg.RoomName)),
			SealKey:    crypto.MD5(crypto.TOTP(sha256.New, cfg.SealKeyLength, cfg.SealKeyInterval, cfg.ExchangeKey)),
			Rendezvous: dht.Rendezvous(),
		}
		if time.Now().Unix() == before {
			res.Now.Real = real
			res.Now.Fixed = fixed(before)
			break
		}
	}

	sealer := &crypto.AESSealer{}
	for _, s := range req.Seal {
		out, err := sealer.Seal(s.Plaintext, s.Key)
		if err != nil {
			fail("sealing: %v", err)
		}
		res.Sealed = append(res.Sealed, out)
	}
	for _, s := range req.Unseal {
		out, err := sealer.Unseal(s.Sealed, s.Key)
		r := unsealResult{Plaintext: out}
		if err != nil {
			r.Error = err.Error()
		}
		res.Unsealed = append(res.Unsealed, r)
	}

	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		fail("writing result: %v", err)
	}
}
