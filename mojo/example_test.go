package mojo_test

import (
	"fmt"

	"github.com/ipcz-go/ipcz-go/ipcz/driver/inprocess"
	"github.com/ipcz-go/ipcz-go/mojo"
)

// A message pipe and a watcher on the default core: the watcher's callback
// runs before WriteMessage returns.
func Example() {
	if err := mojo.Init(inprocess.New(inprocess.Sync), true); err != nil {
		panic(err)
	}
	defer mojo.SetDefault(nil)

	a, b, _ := mojo.CreateMessagePipe(nil)
	w, _ := mojo.CreateWatcher(func(context uintptr, result mojo.Result, state mojo.HandleSignalsState, flags mojo.WatcherNotificationFlags) {
		fmt.Println("notified:", context, result.String(), state.Satisfied)
	})
	mojo.Watch(w, b, mojo.HandleSignalReadable, 1234)
	mojo.ArmWatcher(w, nil, nil, nil, nil)

	mojo.WriteMessage(a, []byte("hello"), nil, mojo.WriteMessageFlagNone)
	buf := make([]byte, 16)
	n, _, r := mojo.ReadMessage(b, buf, nil, mojo.ReadMessageFlagNone)
	fmt.Println(r.String(), string(buf[:n]))
	_, _, r = mojo.ReadMessage(b, buf, nil, mojo.ReadMessageFlagNone)
	fmt.Println(r.String())
	mojo.Close(w)
	mojo.Close(a)
	mojo.Close(b)
	// Output:
	// notified: 1234 OK READABLE|WRITABLE
	// OK hello
	// SHOULD_WAIT
	// notified: 1234 CANCELLED NONE
}

// An invitation connects a second core (in a real program, a child
// process reached through the multiprocess driver's socket transport).
func ExampleOutgoingInvitation() {
	d := inprocess.New(inprocess.Async)
	parent, _ := mojo.NewCore(d, true)
	child, _ := mojo.NewCore(d, false)
	toChild, toParent := d.NewTransportPair(true, false)

	inv := parent.CreateInvitation()
	pipe, _ := inv.AttachMessagePipe("control")
	inv.Send(toChild, 0)

	accepted, _ := child.AcceptInvitation(toParent, 0)
	control, _ := accepted.ExtractMessagePipe("control")

	parent.WriteMessage(pipe, []byte("welcome"), nil, 0)
	buf := make([]byte, 16)
	for {
		n, _, r := child.ReadMessage(control, buf, nil, 0)
		if r == mojo.ResultOK {
			fmt.Println(string(buf[:n]))
			break
		}
	}
	parent.Close(pipe)
	child.Close(control)
	child.Shutdown()
	parent.Shutdown()
	// Output: welcome
}
