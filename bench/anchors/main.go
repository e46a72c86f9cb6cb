// Command anchor is the Go anchor of the intake benchmark (bench/intake.py): a minimal bid
// handler with Helios's answer semantics for POST /bid, written the plain Go way (net/http and
// segmentio/kafka-go), so Helios's Python intake can be compared with it on the same machine,
// broker and load.
//
//	anchor -addr 127.0.0.1:8090 -brokers 127.0.0.1:9092 -topic bid_requests
//
// POST /bid: the body is decoded and checked (a request_id, at least one ad slot with an id), a
// received_at is added, the message is written keyed by request_id with acks=all and a 2 ms
// batch timeout, and only once the broker acknowledged it the answer is
// 202 {"status":"accepted","request_id":...,"imps":n}; 400 for a body that is not an acceptable
// request, 503 when the write failed. GET /healthz answers 200 once the handler serves.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

const maxBody = 64 << 10

type slot struct {
	ID     string   `json:"id"`
	MinBid float64  `json:"min_bid"`
	Format []string `json:"format"`
}

type bidRequest struct {
	RequestID  string          `json:"request_id"`
	UserID     string          `json:"user_id,omitempty"`
	Site       json.RawMessage `json:"site,omitempty"`
	Device     json.RawMessage `json:"device,omitempty"`
	AdSlots    []slot          `json:"ad_slots"`
	ReceivedAt string          `json:"received_at"`
}

type handler struct {
	writer  *kafka.Writer
	timeout time.Duration
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func invalid(w http.ResponseWriter, detail string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "detail": detail})
}

func (h *handler) bid(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method_not_allowed"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "payload_too_large"})
		return
	}
	var req bidRequest
	if err := json.Unmarshal(body, &req); err != nil {
		invalid(w, err.Error())
		return
	}
	if strings.TrimSpace(req.RequestID) == "" || len(req.AdSlots) == 0 {
		invalid(w, "request_id and at least one ad slot are required")
		return
	}
	for _, s := range req.AdSlots {
		if s.ID == "" || s.MinBid < 0 {
			invalid(w, "every ad slot needs an id and a min_bid >= 0")
			return
		}
	}
	req.ReceivedAt = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	value, err := json.Marshal(&req)
	if err != nil {
		invalid(w, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	// Synchronous writer: WriteMessages returns once the broker acknowledged (acks=all).
	if err := h.writer.WriteMessages(ctx, kafka.Message{Key: []byte(req.RequestID), Value: value}); err != nil {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "unavailable"})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "accepted", "request_id": req.RequestID, "imps": len(req.AdSlots)})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	brokers := flag.String("brokers", "127.0.0.1:9092", "bootstrap servers, comma-separated")
	topic := flag.String("topic", "bid_requests", "topic of the accepted requests")
	batchTimeout := flag.Duration("batch-timeout", 2*time.Millisecond, "kafka-go Writer.BatchTimeout")
	flag.Parse()

	h := &handler{
		writer: &kafka.Writer{
			Addr:         kafka.TCP(strings.Split(*brokers, ",")...),
			Topic:        *topic,
			Balancer:     &kafka.CRC32Balancer{}, // librdkafka's default partitioner, as Helios's producer
			BatchTimeout: *batchTimeout,
			BatchSize:    1000,
			RequiredAcks: kafka.RequireAll,
		},
		timeout: 5 * time.Second,
	}
	defer h.writer.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/bid", h.bid)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	log.Printf("anchor: %s -> %s topic %s (batch timeout %s, acks=all)", *addr, *brokers, *topic, *batchTimeout)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
