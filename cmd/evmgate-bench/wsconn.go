package main

import (
	"context"
	"fmt"
	"time"

	"github.com/coder/websocket"
)

// wsConn is one WebSocket client connection that sends the same JSON-RPC
// message again and again, one at a time: each message waits for the
// answer to the last.
type wsConn struct {
	url     string
	msg     []byte
	timeout time.Duration

	c    *websocket.Conn
	body []byte
}

func newWSConn(t target, msg []byte, timeout time.Duration) *wsConn {
	return &wsConn{url: "ws://" + t.addr + t.path, msg: msg, timeout: timeout}
}

// roundTrip sends the message and reads the next message as its answer. On
// any error the connection is closed; the next call dials again.
func (w *wsConn) roundTrip() error {
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	if w.c == nil {
		c, resp, err := websocket.Dial(ctx, w.url, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			if resp != nil {
				return fmt.Errorf("dialing %s: http %d: %w", w.url, resp.StatusCode, err)
			}
			return fmt.Errorf("dialing %s: %w", w.url, err)
		}
		c.SetReadLimit(maxBody)
		w.c = c
	}
	if err := w.c.Write(ctx, websocket.MessageText, w.msg); err != nil {
		return w.drop(fmt.Errorf("writing message: %w", err))
	}
	_, b, err := w.c.Read(ctx)
	if err != nil {
		return w.drop(fmt.Errorf("reading answer: %w", err))
	}
	w.body = b
	return nil
}

func (w *wsConn) answer() []byte { return w.body }

func (w *wsConn) drop(err error) error {
	if w.c != nil {
		w.c.CloseNow()
		w.c = nil
	}
	return err
}

func (w *wsConn) close() {
	if w.c != nil {
		w.c.Close(websocket.StatusNormalClosure, "")
		w.c = nil
	}
}
