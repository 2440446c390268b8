// Command ipczbench measures ipcz between two processes over the
// multiprocess driver, beside the same traffic over a raw Unix socketpair
// in Go:
//
//   - pingpong: round trips of a parcel of each -sizes through a portal
//     pair whose ends are in two processes, and of the same bytes over a
//     socketpair; it prints the median round trip and the ratio;
//   - bulk: one-way throughput of -bulksize parcels (a window of them in
//     flight, acknowledged by the receiver), beside raw socket writes of
//     the same bytes: once with Put and Get into a reused buffer (two
//     copies, as the socket makes), once in place with BeginPut/EndPut and
//     BeginGet/EndGet (the bytes are written once, into shared memory);
//   - pairs: -pairs portal pairs opened in the parent, one end of each
//     sent to the child, each round-tripping one parcel: the total time
//     and the memory per pair.
//
// The ipcz figures are taken with the driver's fast path on (a shared
// ring with futex wake-ups) and off (socket only), as -fast says. The
// child is this program re-executed. -pin N runs everything on CPU N
// (both processes share it); without it the processes float over all the
// CPUs.
//
//	go run ./cmd/ipczbench                    # everything, unpinned
//	go run ./cmd/ipczbench -pin 0             # everything on CPU 0
//	go run ./cmd/ipczbench -mode pingpong -sizes 64 -count 20000 -fast on
//
// The driver's environment variables (IPCZ_MULTIPROCESS_SPIN, for one)
// reach both processes. IPCZ_BENCH_CPUPROFILE=prefix writes a CPU profile
// of each process to prefix.<role>; IPCZ_BENCH_DEBUG=1 prints the
// broker's parcel counters after the bulk runs. Results are recorded in
// docs/benchmarks.md.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ipcz-go/ipcz-go/ipcz/driver/multiprocess"
	"golang.org/x/sys/unix"
)

// Environment of a child process.
const (
	roleEnv   = "IPCZ_BENCH_ROLE"
	sizeEnv   = "IPCZ_BENCH_SIZE"
	countEnv  = "IPCZ_BENCH_COUNT"
	pinnedEnv = "IPCZ_BENCH_PINNED"
)

var (
	mode     = flag.String("mode", "all", "what to run: all, pingpong, bulk or pairs (comma-separated)")
	sizesarg = flag.String("sizes", "64,4096,65536", "ping-pong parcel sizes in bytes, comma-separated")
	count    = flag.Int("count", 5000, "ping-pong round trips per size (after 10% warm-up)")
	bulkSize = flag.Int("bulksize", 64<<10, "bulk parcel size in bytes")
	bulkN    = flag.Int("bulkcount", 20000, "bulk parcels per run")
	pairs    = flag.Int("pairs", 100000, "portal pairs of the pairs benchmark")
	fast     = flag.String("fast", "both", "driver fast path: on, off, both, or none (the baseline only)")
	wait     = flag.String("wait", "trap", "how the ping-pong sender waits for the reply: trap (the next ping is sent from the trap handler) or chan (a goroutine wakes from a channel)")
	pin      = flag.Int("pin", -1, "run both processes on this CPU only (-1: no pinning)")
	repeat   = flag.Int("repeat", 1, "run each ping-pong measurement this many times and keep the lowest median")
	baseline = flag.Bool("baseline", true, "also measure the raw socket baseline")
)

func main() {
	log.SetFlags(0)
	if prof := os.Getenv("IPCZ_BENCH_CPUPROFILE"); prof != "" {
		role := os.Getenv(roleEnv)
		if role == "" {
			role = "parent"
		}
		f, err := os.Create(prof + "." + role)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if role := os.Getenv(roleEnv); role != "" {
		if err := runChild(role); err != nil {
			log.Fatalf("child %s: %v", role, err)
		}
		return
	}
	flag.Parse()
	if *pin >= 0 && os.Getenv(pinnedEnv) == "" {
		pinAndReexec(*pin)
	}
	if err := run(); err != nil {
		pprof.StopCPUProfile()
		log.Fatal(err)
	}
}

// pinAndReexec restricts this process to one CPU and executes itself
// again, so that the Go runtime (and every child) starts with that
// affinity and sizes GOMAXPROCS from it.
func pinAndReexec(cpu int) {
	// The affinity is the calling thread's, and exec keeps that thread's:
	// both must happen on one thread.
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		log.Fatalf("pinning to CPU %d: %v", cpu, err)
	}
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	env := append(os.Environ(), pinnedEnv+"="+strconv.Itoa(cpu))
	log.Fatal(syscall.Exec(self, os.Args, env))
}

func run() error {
	var sizes []int
	for _, s := range strings.Split(*sizesarg, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 {
			return fmt.Errorf("bad size %q", s)
		}
		sizes = append(sizes, n)
	}
	var fastModes []bool
	switch *fast {
	case "on":
		fastModes = []bool{true}
	case "off":
		fastModes = []bool{false}
	case "both":
		fastModes = []bool{true, false}
	case "none": // the baseline only
	default:
		return fmt.Errorf("bad -fast %q", *fast)
	}
	modes := map[string]bool{}
	for _, m := range strings.Split(*mode, ",") {
		modes[strings.TrimSpace(m)] = true
	}
	all := modes["all"]

	placement := "unpinned"
	if v := os.Getenv(pinnedEnv); v != "" {
		placement = "pinned to CPU " + v
	}
	fmt.Printf("ipczbench: %s, %d CPUs, GOMAXPROCS %d, %s, spin %s\n",
		placement, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), spinSetting())

	if all || modes["pingpong"] {
		fmt.Printf("\nping-pong round trip (median of %d, wait=%s)\n", *count, *wait)
		fmt.Printf("%-8s %-22s %12s %12s %8s\n", "size", "path", "ipcz", "raw socket", "ratio")
		for _, size := range sizes {
			var raw time.Duration = 1
			if *baseline {
				var err error
				raw, err = best(func() (time.Duration, error) { return rawPingPong(size, *count) })
				if err != nil {
					return fmt.Errorf("raw ping-pong: %w", err)
				}
			}
			if len(fastModes) == 0 {
				fmt.Printf("%-8s %-22s %12s %12s\n", sizeName(size), "-", "-", us(raw))
			}
			for _, on := range fastModes {
				d, err := best(func() (time.Duration, error) { return ipczPingPong(on, size, *count) })
				if err != nil {
					return fmt.Errorf("ipcz ping-pong: %w", err)
				}
				fmt.Printf("%-8s %-22s %12s %12s %7.2fx\n", sizeName(size), pathName(on), us(d), us(raw),
					float64(d)/float64(raw))
			}
		}
	}
	if all || modes["bulk"] {
		fmt.Printf("\none-way bulk throughput (%d parcels of %s)\n", *bulkN, sizeName(*bulkSize))
		fmt.Printf("%-34s %14s %14s %8s\n", "path, API", "ipcz", "raw socket", "ratio")
		raw := 1.0
		if *baseline {
			var err error
			if raw, err = rawBulk(*bulkSize, *bulkN); err != nil {
				return fmt.Errorf("raw bulk: %w", err)
			}
		}
		for _, on := range fastModes {
			for _, twoPhase := range []bool{false, true} {
				r, err := ipczBulk(on, twoPhase, *bulkSize, *bulkN)
				if err != nil {
					return fmt.Errorf("ipcz bulk: %w", err)
				}
				name := pathName(on) + ", Put/Get"
				if twoPhase {
					name = pathName(on) + ", in place"
				}
				fmt.Printf("%-34s %14s %14s %7.2fx\n", name, rate(r), rate(raw), r/raw)
			}
		}
	}
	if all || modes["pairs"] {
		fmt.Printf("\n%d portal pairs spanning the two processes, one round trip each\n", *pairs)
		for _, on := range fastModes {
			res, err := ipczPairs(on, *pairs)
			if err != nil {
				return fmt.Errorf("ipcz pairs: %w", err)
			}
			fmt.Printf("%-22s total %s (set-up %s, round trips %s); per pair: Go heap %s + %s, RSS %s + %s (parent + child)\n",
				pathName(on), res.total.Round(time.Millisecond), res.setup.Round(time.Millisecond),
				res.trips.Round(time.Millisecond),
				bytesName(res.parentHeap), bytesName(res.childHeap), bytesName(res.parentRSS), bytesName(res.childRSS))
		}
	}
	return nil
}

// best runs f -repeat times and returns the lowest result.
func best(f func() (time.Duration, error)) (time.Duration, error) {
	var out time.Duration
	for i := range max(1, *repeat) {
		d, err := f()
		if err != nil {
			return 0, err
		}
		if i == 0 || d < out {
			out = d
		}
	}
	return out, nil
}

func spinSetting() string {
	if v := os.Getenv(multiprocess.SpinEnv); v != "" {
		return v
	}
	return multiprocess.DefaultSpin.String()
}

func pathName(fastPath bool) string {
	if fastPath {
		return "ring+futex (fast path)"
	}
	return "socket only"
}

// median returns the median of ds (which it sorts).
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func us(d time.Duration) string { return fmt.Sprintf("%.2f µs", float64(d)/1e3) }

func rate(bytesPerSec float64) string { return fmt.Sprintf("%.0f MiB/s", bytesPerSec/(1<<20)) }

func sizeName(n int) string {
	switch {
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

func bytesName(n float64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2f KiB", n/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", n)
	}
}

// envInt reads an integer from the environment of a child.
func envInt(name string) int {
	n, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		log.Fatalf("%s: %v", name, err)
	}
	return n
}

func runChild(role string) error {
	switch role {
	case "raw-pingpong":
		return rawPingPongChild(envInt(sizeEnv))
	case "raw-bulk":
		return rawBulkChild(envInt(sizeEnv), envInt(countEnv))
	case "ipcz-pingpong":
		return ipczPingPongChild()
	case "ipcz-bulk":
		return ipczBulkChild()
	case "ipcz-pairs":
		return ipczPairsChild()
	}
	return fmt.Errorf("unknown role")
}
