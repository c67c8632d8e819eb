// Command leuchtturm-ferretdb runs an embedded FerretDB (SQLite backend)
// for Leuchtturm's embedded default store.
//
// It listens on a loopback TCP address (port 0 picks a free port), keeps its
// SQLite files in a data directory, takes an exclusive lock on that
// directory so two instances never share the same files, prints one JSON
// line {"uri": ...} on stdout once it accepts connections, and exits cleanly
// on SIGTERM or SIGINT, or when its parent process goes away.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:0", "TCP address to listen on (port 0 picks a free port)")
	dataDir := flag.String("data-dir", "var/ferretdb", "directory for the SQLite database files")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	watchParent := flag.Bool("watch-parent", true, "exit when the parent process exits")
	synchronous := flag.String("synchronous", "normal", "SQLite synchronous mode of the WAL: normal or full")
	flag.Parse()

	if *synchronous != "normal" && *synchronous != "full" {
		fmt.Fprintf(os.Stderr, "leuchtturm-ferretdb: invalid -synchronous %q (normal or full)\n", *synchronous)
		os.Exit(2)
	}

	if err := run(*listen, *dataDir, *logLevel, *synchronous, *watchParent); err != nil {
		fmt.Fprintf(os.Stderr, "leuchtturm-ferretdb: %s\n", err)
		os.Exit(1)
	}
}

func run(listen, dataDir, logLevel, synchronous string, watchParent bool) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("invalid -log-level %q", logLevel)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	if err = os.MkdirAll(abs, 0o700); err != nil {
		return fmt.Errorf("cannot create data directory: %w", err)
	}

	lock, err := lockDir(abs)
	if err != nil {
		return err
	}
	defer lock.Close()

	initialParent := os.Getppid()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// FerretDB adds its defaults (busy_timeout, journal_mode(wal), auto_vacuum) to the URL's
	// parameters and sets each pragma on every connection it opens (internal/backends/sqlite/metadata/pool).
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/?_pragma=synchronous(" + synchronous + ")",
	})
	if err != nil {
		return err
	}

	if watchParent {
		go func() {
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if os.Getppid() != initialParent {
						logger.Warn("parent process exited, shutting down")
						stop()
						return
					}
				}
			}
		}()
	}

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	line, _ := json.Marshal(map[string]any{"uri": f.MongoDBURI(), "pid": os.Getpid(), "data_dir": abs})
	fmt.Println(string(line))

	return <-done
}

// lockDir takes an exclusive, non-blocking flock on DATA_DIR/.lock.
// The lock is released by the kernel when the process exits, however it exits.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open lock file: %w", err)
	}
	if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is already in use by another FerretDB process", dir)
		}
		return nil, fmt.Errorf("cannot lock data directory: %w", err)
	}
	return f, nil
}
