# filrec: one non-recursive Makefile. Everything builds into build/ (B=... to change).
#   make            filrec, libfilrec.so, test programs
#   make test       unit tests, end-to-end tests (pytest) on every CPython found,
#                   sanitizer build of the analyzer
#   make pymatrix   only the Python tests, on every CPython 3.8-3.13 under pyenv
#   make asan       the analyzer and format unit tests under ASan+UBSan
#   make fuzz       libFuzzer target for the trace reader (clang)
#   make bench      benchmarks (not part of test)
#   make install    PREFIX=/usr/local
B       ?= build
PREFIX  ?= /usr/local
CC      ?= cc
WERROR  ?=
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes -fvisibility=hidden $(WERROR)
CPPFLAGS += -D_GNU_SOURCE -MMD -MP
CJSON_LIBS = -lcjson
DW_LIBS = -ldl # libdw: dlopen (analyze/an_native.c)
# The interpreters to build the Python support module for (one per version); PYTHON=path
# adds one (`make PYTHON=/opt/python3.12/bin/python3`).
PYTHONS ?= python3 /usr/bin/python3 $(PYTHON)
# pytest (and the browser driver, NumPy 2, pandas 2...) come from .venv, which
# scripts/deps.sh makes from tests/requirements.txt.
VENV    ?= .venv
PYTEST  ?= $(VENV)/bin/python -m pytest

FORMAT_SRC = format/ft_writer.c format/ft_reader.c
RECORD_SRC = record/rec_core.c record/rec_gate.c record/rec_got.c record/rec_hooks.c record/rec_link.c record/rec_native.c record/rec_lane.c record/rec_sample.c record/rec_stack.c record/rec_watch.c
# The recorder's other half, run by `filrec run`: reads the job's logs, writes the traces.
SINK_SRC = sink/sink.c sink/sink_merge.c sink/sink_tc.c
ANALYZE_SRC = analyze/an_code.c analyze/an_defs.c analyze/an_flame.c analyze/an_job.c analyze/an_live.c analyze/an_maps.c analyze/an_native.c analyze/an_peak.c analyze/an_plot.c analyze/an_replay.c analyze/an_tree.c analyze/an_util.c
CLI_SRC = cli/filrec.c cli/cli_ending.c cli/cmd_run.c cli/cmd_attach.c cli/cmd_sink.c cli/cmd_stats.c cli/cmd_summary.c cli/cmd_flamegraph.c cli/cmd_export.c cli/cmd_lines.c cli/cmd_report.c cli/cmd_plot.c
PROGS = $(patsubst tests/progs/%.c,$(B)/progs/%,$(wildcard tests/progs/*.c))
# Shared libraries the tests load (ctypes, dlopen).
CLIBS = $(patsubst tests/clib/%.c,$(B)/clib/lib%.so,$(wildcard tests/clib/*.c))
UNIT = $(patsubst tests/unit/%.c,$(B)/unit/%,$(wildcard tests/unit/*.c))

obj = $(patsubst %.c,$(B)/$(1)/%.o,$(2))

all: native $(PROGS) $(CLIBS)

# What an install needs (`pip install .` builds this alone: setup.py).
native: $(B)/filrec $(B)/libfilrec.so pyext

# The Python support module, once per interpreter version, in $(B)/python/cpython-X.Y.Z/.
pyext:
	@for py in $(PYTHONS); do scripts/pyext.sh $$py $(B) $(CC) >/dev/null || exit 1; done

$(B)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -ftls-model=initial-exec -c $< -o $@

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(B)/libfilrec.so: $(call obj,pic,$(RECORD_SRC) $(FORMAT_SRC))
	$(CC) $(CFLAGS) -shared -o $@ $^ -Wl,-z,nodelete -lzstd -ldl -lpthread

$(B)/filrec: $(call obj,obj,$(CLI_SRC) $(ANALYZE_SRC) $(SINK_SRC) $(FORMAT_SRC))
	$(CC) $(CFLAGS) -o $@ $^ -lzstd $(CJSON_LIBS) $(DW_LIBS) -lm

$(B)/progs/%: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -Wall -Wextra -D_GNU_SOURCE -o $@ $< -ldl -lpthread

$(B)/clib/lib%.so: tests/clib/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -Wall -Wextra -fPIC -shared -o $@ $< -lpthread

# static_*: programs no preloaded library can enter
$(B)/progs/static_%: tests/progs/static_%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -Wall -Wextra -D_GNU_SOURCE -static -o $@ $<

$(B)/unit/%: tests/unit/%.c tests/unit/check.h $(call obj,obj,$(ANALYZE_SRC) $(SINK_SRC) $(FORMAT_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP,$(CPPFLAGS)) $(CFLAGS) -o $@ $< $(filter %.o,$^) -lzstd $(CJSON_LIBS) $(DW_LIBS) -lm

# record/ and analyze/ never include each other: the format is the only shared code.
# The sink (sink/) reads the library's log (record/'s internal header); record/ knows
# nothing of it, and cli/ reaches the recorder only through sink/sink.h, for `filrec run`.
check-layering:
	@! grep -n '#include "\.\./analyze\|#include "\.\./cli\|#include "\.\./sink' record/*.c record/*.h
	@! grep -n '#include "\.\./record\|#include "\.\./sink' analyze/*.c analyze/*.h
	@! grep -n '#include "\.\./analyze\|#include "\.\./cli' sink/*.c sink/*.h
	@! grep -n '#include "\.\./record' cli/*.c
	@! grep -n '#include "\.\./sink' cli/*.c | grep -v 'cmd_run.c:.*"\.\./sink/sink.h"' | grep -v 'cmd_sink.c:.*"\.\./sink/sink.h"'

# test_sample includes the recorder's sampled-block set itself.
$(B)/unit/test_sample: record/rec_sample.c record/rec_internal.h
# test_gate, the biased lock.
$(B)/unit/test_gate: record/rec_gate.c record/rec_internal.h

unit: $(UNIT)
	@for t in $(UNIT); do $$t || exit 1; done

# Every CPython 3.8-3.13 under pyenv (or PYENV_ROOT) gets its module built and the
# Python tests run against it; an interpreter that is not there is skipped, not failed.
PYENV_PYTHONS = $(sort $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/3.[89].*/bin/python3 \
                                  $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/3.1[0-3].*/bin/python3))
pymatrix: all $(VENV)/bin/python
	@for py in $(PYENV_PYTHONS); do scripts/pyext.sh $$py $(B) $(CC) >/dev/null || exit 1; done
	@[ -n "$(PYENV_PYTHONS)" ] || echo "pymatrix: no pyenv CPython 3.8-3.13 found; only python3 is tested"
	FILREC_BUILD=$(abspath $(B)) FILREC_TEST_PYTHONS="$(PYENV_PYTHONS) $(PYTHONS)" \
	    $(PYTEST) -q tests/e2e -k python

e2e: all $(VENV)/bin/python
	FILREC_BUILD=$(abspath $(B)) $(PYTEST) -q tests/e2e

asan:
	$(MAKE) B=build-asan CC=clang WERROR=-Werror \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    build-asan/filrec unit B=build-asan

fuzz:
	@mkdir -p $(B)/fuzz
	clang -std=gnu11 -O1 -g -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    tests/fuzz/fuzz_reader.c $(FORMAT_SRC) -o $(B)/fuzz/fuzz_reader -lzstd

test: check-layering $(VENV)/bin/python
	$(MAKE) WERROR=-Werror all unit
	$(MAKE) asan
	@for py in $(PYENV_PYTHONS); do scripts/pyext.sh $$py $(B) $(CC) >/dev/null || exit 1; done
	FILREC_BUILD=$(abspath $(B)) FILREC_ASAN_BUILD=$(abspath build-asan) \
	    FILREC_TEST_PYTHONS="$(PYENV_PYTHONS) $(PYTHONS)" $(PYTEST) -q tests/e2e

$(VENV)/bin/python:
	@echo "make: $(VENV) is missing: run scripts/deps.sh (it makes it from tests/requirements.txt)" >&2; exit 1

bench: all
	bench/run.sh
	bench/analyze.sh
	bench/python.sh
	bench/peers.sh
	@if [ -f bench/plot.sh ]; then bench/plot.sh; fi

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/filrec $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(B)/filrec $(DESTDIR)$(PREFIX)/bin/filrec
	install -m 755 $(B)/libfilrec.so $(DESTDIR)$(PREFIX)/lib/filrec/libfilrec.so
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -d $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 644 man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/
	cp -R $(B)/python $(DESTDIR)$(PREFIX)/lib/filrec/python
	install -d $(DESTDIR)$(PREFIX)/lib/filrec/pkg/filrec/_site
	install -m 644 python/filrec/*.py $(DESTDIR)$(PREFIX)/lib/filrec/pkg/filrec/
	install -m 644 python/filrec/_site/*.py $(DESTDIR)$(PREFIX)/lib/filrec/pkg/filrec/_site/

clean:
	rm -rf build build-asan

.PHONY: all native pyext pymatrix unit e2e asan fuzz test bench install clean check-layering
-include $(shell find $(B) build-asan -name '*.d' 2>/dev/null)
