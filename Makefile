# The two entry points of the README. Everything else is plain `go`.
GO ?= go

.PHONY: test demo race bench lib examples install

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

# lib builds the C shared library libmojo.so (cgo, -buildmode=c-shared,
# version script, soname) into $(LIBDIR), with $(LIBDIR)/pkgconfig/mojo.pc
# pointing at it and at include/. It prints the go command it runs.
LIBDIR ?= lib
lib:
	$(GO) run ./capi/internal/clib/mklib -o $(LIBDIR)

# examples builds and runs the C examples against the library through
# pkg-config.
examples: lib
	$(MAKE) -C examples/c run PKG_CONFIG_PATH=$(CURDIR)/$(LIBDIR)/pkgconfig

# install copies the library, the headers and a pkg-config file for
# PREFIX (default /usr/local) under DESTDIR.
PREFIX ?= /usr/local
install: lib
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 0755 $(LIBDIR)/libmojo.so.0 $(DESTDIR)$(PREFIX)/lib/libmojo.so.0
	ln -sf libmojo.so.0 $(DESTDIR)$(PREFIX)/lib/libmojo.so
	cp -R include/ipcz include/mojo $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$${prefix}/lib|' \
	    -e 's|@INCLUDEDIR@|$${prefix}/include|' -e 's|@VERSION@|0.1.0|' \
	    mojo.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mojo.pc
