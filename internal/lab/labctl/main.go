// Command labctl boots and stops the lab: `labctl up` and `labctl down`.
// Settings come from LAB_NODES (default 4), LAB_SUITE (default trixie),
// LAB_MYSQL_NODES (MySQL hosts mysql1..N from Debian sid, default 0),
// LAB_DIR (default ./.lab), LAB_CACHE (default /var/cache/erawan-lab),
// LAB_BRIDGE (default erawan0), LAB_PREFIX (first three octets of the lab's
// /24, default 10.231.0) and LAB_MACHINE_PREFIX (prefix of the nspawn machine
// names, default none), so a second lab can run beside the first.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/lab"
)

func main() {
	os.Exit(run())
}

// run does the work of main and returns the exit status, so that its
// deferred calls run before the process exits.
func run() int {
	if len(os.Args) != 2 || (os.Args[1] != "up" && os.Args[1] != "down") {
		fmt.Fprintln(os.Stderr, "usage: labctl up|down")
		return 2
	}
	dir := os.Getenv("LAB_DIR")
	if dir == "" {
		dir = ".lab"
	}
	dir, _ = filepath.Abs(dir)
	opts := lab.Options{Nodes: intEnv("LAB_NODES"), MySQLNodes: intEnv("LAB_MYSQL_NODES"), Suite: os.Getenv("LAB_SUITE"), Dir: dir, CacheDir: os.Getenv("LAB_CACHE"),
		Bridge: os.Getenv("LAB_BRIDGE"), Prefix: os.Getenv("LAB_PREFIX"), MachinePrefix: os.Getenv("LAB_MACHINE_PREFIX")}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if os.Args[1] == "up" {
		_, err = lab.Up(ctx, opts)
	} else {
		err = lab.Down(opts)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		return 1
	}
	return 0
}

func intEnv(name string) int {
	v := os.Getenv(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s=%q is not a number\n", name, v)
		os.Exit(2)
	}
	return n
}
