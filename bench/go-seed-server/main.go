// A minimal server of the seed article's protocol, standard library only: the baseline the bench
// measures taskctl against. GET /watch-task/{id} is held until the id is cancelled ("true") or the
// watch timeout passes ("false"); GET /cancel-task/{id} records the cancel and answers every waiter
// ("ok"). A cancel is remembered, so a watch that arrives after it is answered at once, as taskctl does.
package main

import (
	"encoding/json"
	"flag"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

type canceler struct {
	mu        sync.Mutex
	cancelled map[string]bool
	waiters   map[string][]chan struct{}
}

func (c *canceler) watch(id string) (bool, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancelled[id] {
		return true, nil
	}
	ch := make(chan struct{})
	c.waiters[id] = append(c.waiters[id], ch)
	return false, ch
}

func (c *canceler) forget(id string, ch <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := c.waiters[id]
	for i, w := range list {
		if w == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(c.waiters, id)
	} else {
		c.waiters[id] = list
	}
}

func (c *canceler) cancel(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancelled[id] = true
	for _, ch := range c.waiters[id] {
		close(ch)
	}
	delete(c.waiters, id)
}

func text(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(body))
}

func main() {
	watchTimeout := flag.Duration("watch-timeout", 5*time.Minute, "how long a watch is held")
	flag.Parse()
	c := &canceler{cancelled: map[string]bool{}, waiters: map[string][]chan struct{}{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write([]byte(`{"message":"pong"}`))
	})
	mux.HandleFunc("/cancel-task/", func(w http.ResponseWriter, r *http.Request) {
		c.cancel(strings.TrimPrefix(r.URL.Path, "/cancel-task/"))
		text(w, "ok")
	})
	mux.HandleFunc("/watch-task/", func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/watch-task/")
		done, ch := c.watch(id)
		if done {
			text(w, "true")
			return
		}
		timer := time.NewTimer(*watchTimeout)
		defer timer.Stop()
		select {
		case <-ch:
			text(w, "true")
		case <-timer.C:
			c.forget(id, ch)
			text(w, "false")
		case <-r.Context().Done():
			c.forget(id, ch)
		}
	})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	server := &http.Server{Handler: mux, IdleTimeout: 5 * time.Second}
	line, _ := json.Marshal(map[string]string{"url": "http://" + listener.Addr().String()})
	os.Stdout.Write(append(line, '\n'))
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
		server.Close()
	}()
	if err := server.Serve(listener); err != http.ErrServerClosed {
		panic(err)
	}
}
