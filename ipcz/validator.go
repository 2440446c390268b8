package ipcz

import "sync/atomic"

// Validator refers to one retrieved parcel, so the application can reject
// it (Reject) after finding its contents invalid.
type Validator struct {
	node   *Node        // immutable
	source parcelSource // immutable; nil for a parcel put on this node
	closed atomic.Bool
}

func (v *Validator) objectNode() *Node {
	if v == nil {
		return nil
	}
	return v.node
}

// Close frees the validator.
func (v *Validator) Close() error {
	if v == nil || !v.closed.CompareAndSwap(false, true) {
		return InvalidArgument
	}
	return nil
}

// Reject reports the parcel as invalid. If it came from another node, the
// driver's ReportBadTransportActivity is told, with context, about the
// transport it came over; a parcel put on this node gives
// FailedPrecondition.
func (v *Validator) Reject(context uintptr) error {
	if v == nil || v.closed.Load() {
		return InvalidArgument
	}
	if v.source == nil {
		return FailedPrecondition
	}
	return v.source.reportBadActivity(context)
}
