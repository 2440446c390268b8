//go:build cgo

package capi

import (
	"log"
	"os"
	"sync"
	"sync/atomic"

	"github.com/ipcz-go/ipcz-go/ipcz"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
	"github.com/ipcz-go/ipcz-go/ipcz/driver/multiprocess"
	"github.com/ipcz-go/ipcz-go/mojo"
)

// Roles of the process-wide Mojo core (MOJO_EXT_ROLE_*).
const (
	roleDefault = 0
	roleBroker  = 1
	roleChild   = 2
)

var (
	// theCore is the process-wide Mojo core, nil until it starts.
	theCore atomic.Pointer[mojo.Core]
	// coreMu serializes starting the core. coreRole is the role it
	// started in. Guarded by coreMu.
	coreMu   sync.Mutex
	coreRole int
)

// getCore returns the process-wide core, starting it in the default role
// on the first call. It returns nil only if the core cannot start (the
// export then answers INTERNAL).
func getCore() *mojo.Core {
	checkTestPanic()
	if c := theCore.Load(); c != nil {
		return c
	}
	c, _ := startCore(roleDefault)
	return c
}

// startCore starts the core in role unless it is running already; started
// reports whether this call started it.
func startCore(role int) (c *mojo.Core, started bool) {
	coreMu.Lock()
	defer coreMu.Unlock()
	if c := theCore.Load(); c != nil {
		return c, false
	}
	if role == roleDefault {
		role = roleBroker
		if _, ok := os.LookupEnv(multiprocess.TransportFDEnv); ok {
			role = roleChild
		}
	}
	c, err := mojo.NewCore(builtinDriver(driverMultiprocess), role == roleBroker)
	if err != nil {
		log.Printf("libmojo: cannot start the Mojo core: %v", err)
		return nil, false
	}
	coreRole = role
	theCore.Store(c)
	return c, true
}

// isBrokerCore reports whether the running core is the broker.
func isBrokerCore() bool {
	coreMu.Lock()
	defer coreMu.Unlock()
	return coreRole == roleBroker
}

// Built-in drivers (IPCZ_GO_DRIVER_*): one process-wide instance each,
// made on first use. The Mojo core uses the multiprocess one.
const (
	driverMultiprocess  = 1
	driverInprocess     = 2
	driverInprocessAsyn = 3
	numBuiltinDrivers   = 4 // ids are 1..3
)

var (
	builtinOnce [numBuiltinDrivers]sync.Once
	builtins    [numBuiltinDrivers]ipcz.Driver
	mpDriver    *multiprocess.Driver // set with builtins[driverMultiprocess]
	ipDrivers   [numBuiltinDrivers]*inprocess.Driver
)

// builtinDriver returns built-in driver id, or nil for an unknown id.
func builtinDriver(id uint32) ipcz.Driver {
	if id == 0 || id >= numBuiltinDrivers {
		return nil
	}
	builtinOnce[id].Do(func() {
		switch id {
		case driverMultiprocess:
			mpDriver = multiprocess.New()
			builtins[id] = mpDriver
		case driverInprocess:
			ipDrivers[id] = inprocess.New(inprocess.Sync)
			builtins[id] = ipDrivers[id]
		case driverInprocessAsyn:
			ipDrivers[id] = inprocess.New(inprocess.Async)
			builtins[id] = ipDrivers[id]
		}
	})
	return builtins[id]
}

// multiprocessDriver returns the process's multiprocess driver.
func multiprocessDriver() *multiprocess.Driver {
	builtinDriver(driverMultiprocess)
	return mpDriver
}
