package mojo

import (
	"github.com/ipcz-go/ipcz-go/datapipe"
	"github.com/ipcz-go/ipcz-go/watcher"
)

// dataPipeProducer is a data pipe producer handle.
type dataPipeProducer struct {
	p        *datapipe.Producer // immutable
	notifier *watcher.Notifier  // immutable
}

func newDataPipeProducer(p *datapipe.Producer) *dataPipeProducer {
	return &dataPipeProducer{p: p, notifier: watcher.NewWakingNotifier(p.Portal(), p.WantWake)}
}

// SignalsState implements watcher.Source.
func (o *dataPipeProducer) SignalsState() HandleSignalsState { return o.p.SignalsState() }

// Notifier implements watcher.Source.
func (o *dataPipeProducer) Notifier() *watcher.Notifier { return o.notifier }

func (o *dataPipeProducer) close(*Core) {
	o.notifier.Close()
	_ = o.p.Close()
}

func (o *dataPipeProducer) beginTransit(*Core) (outgoing, Result) {
	t, r := o.p.BeginTransit()
	if r != ResultOK {
		return outgoing{}, r
	}
	return outgoing{
		kind:     wireDataPipeProducer,
		fields:   t.Snapshot().Encode(),
		objects:  t.Objects(),
		complete: t.Complete,
		cancel:   t.Cancel,
	}, ResultOK
}

// dataPipeConsumer is a data pipe consumer handle.
type dataPipeConsumer struct {
	c        *datapipe.Consumer // immutable
	notifier *watcher.Notifier  // immutable
}

func newDataPipeConsumer(c *datapipe.Consumer) *dataPipeConsumer {
	return &dataPipeConsumer{c: c, notifier: watcher.NewWakingNotifier(c.Portal(), c.WantWake)}
}

// SignalsState implements watcher.Source.
func (o *dataPipeConsumer) SignalsState() HandleSignalsState { return o.c.SignalsState() }

// Notifier implements watcher.Source.
func (o *dataPipeConsumer) Notifier() *watcher.Notifier { return o.notifier }

func (o *dataPipeConsumer) close(*Core) {
	o.notifier.Close()
	_ = o.c.Close()
}

func (o *dataPipeConsumer) beginTransit(*Core) (outgoing, Result) {
	t, r := o.c.BeginTransit()
	if r != ResultOK {
		return outgoing{}, r
	}
	return outgoing{
		kind:     wireDataPipeConsumer,
		fields:   t.Snapshot().Encode(),
		objects:  t.Objects(),
		complete: t.Complete,
		cancel:   t.Cancel,
	}, ResultOK
}

func (c *Core) producer(h Handle) (*dataPipeProducer, bool) {
	o, _ := c.lookup(h)
	p, ok := o.(*dataPipeProducer)
	return p, ok
}

func (c *Core) consumer(h Handle) (*dataPipeConsumer, bool) {
	o, _ := c.lookup(h)
	p, ok := o.(*dataPipeConsumer)
	return p, ok
}

// CreateDataPipe creates a data pipe (MojoCreateDataPipe). With nil
// options the element size is 1 byte and the capacity 64 KiB. Results:
// InvalidArgument if options.StructSize is not exactly 16, the element size
// is 0 or the capacity is not a multiple of it; Unimplemented for unknown
// flags; ResourceExhausted for a capacity above 256 MiB or if the ring
// cannot be allocated.
func (c *Core) CreateDataPipe(options *CreateDataPipeOptions) (producer, consumer Handle, r Result) {
	defer c.exit(c.enter())
	o := datapipe.Options{ElementNumBytes: 1}
	if options != nil {
		if options.StructSize != CreateDataPipeOptionsStructSize {
			return HandleInvalid, HandleInvalid, ResultInvalidArgument
		}
		o = datapipe.Options{
			Flags:            options.Flags,
			ElementNumBytes:  options.ElementNumBytes,
			CapacityNumBytes: options.CapacityNumBytes,
		}
	}
	o, r = datapipe.ValidateOptions(o)
	if r != ResultOK {
		return HandleInvalid, HandleInvalid, r
	}
	p, cons, r := datapipe.Create(c.node, o)
	if r != ResultOK {
		return HandleInvalid, HandleInvalid, r
	}
	objs := []object{newDataPipeProducer(p), newDataPipeConsumer(cons)}
	hs, ok := c.handles.addAll(objs)
	if !ok {
		for _, o := range objs {
			o.close(c)
		}
		return HandleInvalid, HandleInvalid, ResultResourceExhausted
	}
	return Handle(hs[0]), Handle(hs[1]), ResultOK
}

// WriteData writes elements into a data pipe (MojoWriteData; len(elements)
// is *num_bytes on input) and returns the number of bytes written. Results
// as datapipe.Producer.WriteData, plus InvalidArgument if h is not a
// producer.
func (c *Core) WriteData(h Handle, elements []byte, flags WriteDataFlags) (uint32, Result) {
	counted := c.enter()
	n, r := uint32(0), ResultInvalidArgument
	if p, ok := c.producer(h); ok {
		n, r = p.p.WriteData(elements, flags)
	}
	c.exit(counted)
	return n, r
}

// BeginWriteData starts a two-phase write (MojoBeginWriteData) and returns
// the writable span of the ring. Results as
// datapipe.Producer.BeginWriteData, plus InvalidArgument if h is not a
// producer.
func (c *Core) BeginWriteData(h Handle, flags WriteDataFlags) ([]byte, Result) {
	defer c.exit(c.enter())
	p, ok := c.producer(h)
	if !ok {
		return nil, ResultInvalidArgument
	}
	return p.p.BeginWriteData(flags)
}

// EndWriteData ends a two-phase write, committing numBytesWritten bytes
// (MojoEndWriteData). Results as datapipe.Producer.EndWriteData, plus
// InvalidArgument if h is not a producer.
func (c *Core) EndWriteData(h Handle, numBytesWritten uint32) Result {
	defer c.exit(c.enter())
	p, ok := c.producer(h)
	if !ok {
		return ResultInvalidArgument
	}
	r := p.p.EndWriteData(numBytesWritten)
	p.notifier.Changed() // WRITABLE may be satisfied again
	return r
}

// ReadData reads, peeks at, discards or queries data (MojoReadData):
// numBytes is *num_bytes on input and elements must hold that many bytes
// unless ReadDataFlagQuery or ReadDataFlagDiscard is given. It returns the
// number of bytes read (or readable, for a query). Results as
// datapipe.Consumer.ReadData, plus InvalidArgument if h is not a consumer.
func (c *Core) ReadData(h Handle, elements []byte, numBytes uint32, flags ReadDataFlags) (uint32, Result) {
	counted := c.enter()
	n, r := uint32(0), ResultInvalidArgument
	if cons, ok := c.consumer(h); ok {
		n, r = cons.c.ReadData(elements, numBytes, flags)
	}
	c.exit(counted)
	return n, r
}

// BeginReadData starts a two-phase read (MojoBeginReadData) and returns the
// readable span of the ring; the caller must not write to it. Results as
// datapipe.Consumer.BeginReadData, plus InvalidArgument if h is not a
// consumer.
func (c *Core) BeginReadData(h Handle, flags ReadDataFlags) ([]byte, Result) {
	defer c.exit(c.enter())
	cons, ok := c.consumer(h)
	if !ok {
		return nil, ResultInvalidArgument
	}
	return cons.c.BeginReadData(flags)
}

// EndReadData ends a two-phase read, consuming numBytesRead bytes
// (MojoEndReadData). Results as datapipe.Consumer.EndReadData, plus
// InvalidArgument if h is not a consumer.
func (c *Core) EndReadData(h Handle, numBytesRead uint32) Result {
	defer c.exit(c.enter())
	cons, ok := c.consumer(h)
	if !ok {
		return ResultInvalidArgument
	}
	r := cons.c.EndReadData(numBytesRead)
	cons.notifier.Changed() // READABLE may be satisfied again
	return r
}
