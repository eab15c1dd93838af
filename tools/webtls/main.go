// webtls serves /metrics and /health through prometheus/exporter-toolkit's web.ListenAndServe with a web config
// file, as the pinned DCGM exporter does (pkg/dcgmexporter/server.go@3.3.9-3.6.1:41-45,84), so tests can handshake
// with the web config and certificates the stack generates. Usage: webtls -listen 127.0.0.1:9400 -web-config FILE
package main

import (
	"flag"
	"net/http"
	"os"

	"github.com/go-kit/log"
	"github.com/prometheus/exporter-toolkit/web"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9400", "address to listen on")
	config := flag.String("web-config", "", "exporter-toolkit web config file")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("DCGM_FI_DEV_GPU_UTIL{gpu=\"0\"} 0\n"))
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	server := &http.Server{Addr: *listen, Handler: mux}
	systemd := false
	flags := &web.FlagConfig{WebListenAddresses: &[]string{*listen}, WebSystemdSocket: &systemd, WebConfigFile: config}
	if err := web.ListenAndServe(server, flags, log.NewLogfmtLogger(os.Stderr)); err != nil && err != http.ErrServerClosed {
		_, _ = os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}
