# The two entry points of the README. Everything else is plain `go`.
GO ?= go

.PHONY: test demo race bench

# test runs the whole suite, then again under the race detector.
test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race ./...

# demo runs the demonstration of the main job.
demo:
	$(GO) run ./cmd/ipczdemo

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
