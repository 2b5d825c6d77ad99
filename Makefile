# Makefile - forklings: build, grade and test the course.  `make help`.
#
# One non-recursive Makefile.  Everything it makes goes under build/:
#   build/obj/<dir>/...   objects (+ .d dependency files)
#   build/bin/<dir>/...   test programs and demos, per source tree
#   build/grade/          the grader's report and results.json
# Lessons are found from tests/NN_topic/points; L=01 limits a target to one.

CC       ?= cc
BUILD    := build
CSTD     := -std=c11 -D_POSIX_C_SOURCE=200809L
WARN     := -Wall -Wextra -Werror -pedantic
OPT      ?= -O2 -g
# (The tests too, though -O1 builds them a third faster: at -O1 a test's
# stack keeps stale pointers that hide a leak from LeakSanitizer; lesson
# 04's mem_close_leaks_the_handle escaped the test written to catch it.)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
# pkg-config gives -pthread to the compile only; tests that start threads
# need it at the link too (glibc before 2.34 keeps pthreads out of libc).
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null) -pthread
# Test programs link with gold where the compiler has it: a link takes a
# third less time than with ld.bfd, and the grader links one per lesson
# graded (make test, some 600).  Otherwise the compiler's own linker.
CHECK_LIBS   += $(shell $(CC) -fuse-ld=gold -Wl,--version >/dev/null 2>&1 && \
	echo -fuse-ld=gold)
# Lesson 11's handshake computes HMACs with OpenSSL's libcrypto (libssl-dev).
# --as-needed records it only in the programs that call it: the other
# lessons' test programs do not load it.  The grader links every lesson
# with CHECK_LIBS, and refuses a lesson file that defines one of its names.
# Without libcrypto only lesson 11 fails to build (its headers are missing
# too), not every link: the flag is added only when the library is there.
CRYPTO_SO    := $(shell $(CC) -print-file-name=libcrypto.so 2>/dev/null)
CRYPTO_FLAGS := -Wl,--push-state,--as-needed -lcrypto -Wl,--pop-state
CRYPTO_LIBS  := $(if $(filter /%,$(CRYPTO_SO)),$(CRYPTO_FLAGS))
CHECK_LIBS   += $(CRYPTO_LIBS)
# Objects carry no absolute path of this tree (code under test reads its
# own program, debug info included).
CFLAGS_ALL    = $(CSTD) $(WARN) $(OPT) -MMD -MP -fdebug-prefix-map=$(CURDIR)=.
# Student code (stubs, solutions, submissions) is built with every local
# it never sets filled with 0xfe bytes, not with whatever the stack held
# (often zeros, which hide the mistake): a count never set starts near
# -16 million, a pointer never set faults, a sigset_t never emptied holds
# signals no program can add (the tests' signal wrappers say so).  Code
# that sets what it reads is unchanged.  GCC 12 or clang 8 and later.
INIT         := $(shell $(CC) -ftrivial-auto-var-init=pattern -E -x c \
	/dev/null >/dev/null 2>&1 && echo -ftrivial-auto-var-init=pattern)
HAVE_CHECK   := $(shell pkg-config --exists check 2>/dev/null && echo yes)

SUBMISSION ?= .
ifeq ($(V),1)
Q :=
else
Q := @
endif
# What the build says of each file ("  CC      file"): nothing on the way
# to a report (make grade, check, progress, watch), whose first run on a
# fresh clone would otherwise open with some 30 such lines; one line says
# that it builds.  Compiler errors show as ever.
REPORT_GOALS := grade check progress watch grade-class
SAY := $(if $(filter $(REPORT_GOALS),$(MAKECMDGOALS)),:,echo)

ALL_LESSONS := $(patsubst tests/%/points,%,$(wildcard tests/[0-9][0-9]_*/points))
ifneq ($(L),)
LESSONS := $(filter $(L) $(L)_%,$(ALL_LESSONS))
ifeq ($(LESSONS),)
$(error No lesson matches L=$(L); lessons: $(ALL_LESSONS))
endif
else
LESSONS := $(ALL_LESSONS)
endif

# The topic of a lesson: 03_start_methods -> start_methods.
topic = $(patsubst $(firstword $(subst _, ,$(1)))_%,%,$(1))

.DEFAULT_GOAL := all
# Keep every object: none is a throwaway intermediate.
.SECONDARY:
.PHONY: all help deps grade check demo hint test test-extra docs docs-solutions coverage bench san golden lint \
	clean grade-class stress-selftest \
	progress watch list reset grader gradescope classroom compile_commands.json \
	need-check need-crypto trace sweep

help: ## List the targets
	@echo "forklings - process-based parallelism in C, from fork() up"
	@echo
	@echo "Students:"
	@echo "  make deps         install Check, Doxygen, graphviz, gcovr (apt-get)"
	@echo "  make grade        grade your lessons/: a line per lesson, the first"
	@echo "                    failure in full (ALL=1: every failure; L=01)"
	@echo "  make check L=01   grade one lesson, listing every test"
	@echo "  make demo L=01    run the lesson's demo with your code"
	@echo "  make hint L=01    one more hint each time (RESET=1 starts over)"
	@echo "  make watch        re-check the current lesson on every save"
	@echo "  make progress     a table of lessons with points, and a progress bar"
	@echo "  make list         the lessons, and where to read each"
	@echo "  make reset L=01   restore the lesson's stub (your file is backed up);"
	@echo "                    it asks first: YES=1 confirms without a terminal"
	@echo "  make trace L=01   draw what the demo's processes did (T=test_name:"
	@echo "                    one test; SOLUTION=1: the reference solution)"
	@echo "  make compile_commands.json   tell clangd / VS Code the include paths"
	@echo "  make docs         build the docs site into build/docs/html"
	@echo
	@echo "Instructors and course developers:"
	@echo "  make grade SUBMISSION=DIR   grade another tree (a student's clone)"
	@echo "  make grade-class SUBMISSIONS=DIR   grade every tree in DIR, in"
	@echo "                    parallel (JOBS=N), into build/class/gradebook.csv"
	@echo "  make gradescope   a Gradescope autograder bundle (build/gradescope/)"
	@echo "  make classroom    regenerate the GitHub Classroom workflow"
	@echo "  HIDDEN=DIR        with grade targets: add an instructor's hidden"
	@echo "                    tests from DIR/NN_topic/ (check_*.c and points)"
	@echo "  make all          build stubs, solutions, tests, demos, grader"
	@echo "  make test         the course's own tests (what CI runs);"
	@echo "                    L=NN: one lesson, without the grader battery"
	@echo "  make coverage     line coverage of solutions and grader (gcovr)"
	@echo "  make lint         clang-format, shellcheck, cppcheck (make deps LINT=1)"
	@echo "  make golden       the grader's messages against tests/golden (UPDATE=1)"
	@echo "  make sweep L=NN   grade every mechanical mutant of a solution, list"
	@echo "                    what escaped (OPS=swap,var: some operators)"
	@echo "  make bench        reference code against Python multiprocessing (QUICK=1)"
	@echo "  make docs-solutions   the docs site with the solutions"
	@echo "  make clean        remove build/"
	@echo
	@echo "Options: L=NN (one lesson), T=TEXT (tests whose names contain it),"
	@echo "         ALL=1 (grade: every failure), YES=1 (reset: no question),"
	@echo "         ONLY=TEST (that test alone), STRICT=1 (exit 1 unless all pass),"
	@echo "         V=1 (show commands), SUBMISSION=DIR"

deps: ## Install the dependencies
	$(Q)LINT=$(LINT) sh tests/deps.sh

# ---------------------------------------------------------------- compile

# Whatever uses Check says how to get it, instead of "check.h: No such file".
need-check:
ifneq ($(HAVE_CHECK),yes)
	@echo "Check, the C unit-test framework, is not installed (pkg-config" >&2
	@echo "cannot find it). Run: make deps" >&2
	@exit 1
endif

# The tests that compute HMACs with libcrypto (lesson 11's) say what is
# missing before the compiler does: a clone made before lesson 11 needed
# libssl-dev has not run make deps since.
CRYPTO_TESTS := $(patsubst %.c,$(BUILD)/obj/%.o,\
	$(shell grep -l '<openssl/' tests/[0-9][0-9]_*/*.c 2>/dev/null))
$(CRYPTO_TESTS): | need-crypto
need-crypto:
ifeq ($(CRYPTO_LIBS),)
	@echo "OpenSSL's libcrypto is not installed: lesson 11's handshake" >&2
	@echo "computes HMACs with it (Debian's libssl-dev). Run: make deps" >&2
	@exit 1
endif

$(BUILD)/obj/tests/harness.o $(BUILD)/obj/tests/stress.o: \
		$(BUILD)/obj/tests/%.o: tests/%.c | need-check
	@mkdir -p $(@D)
	@$(if $(Q),$(SAY) "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -fno-omit-frame-pointer -Itests \
	    -c $< -o $@

# The code under test, with its calls renamed (fork -> fl_wrap_fork) so
# that tests/stress.c can fail them on purpose; demos use the plain object.
OBJCOPY ?= objcopy
HARNESS_OBJS := $(BUILD)/obj/tests/harness.o $(BUILD)/obj/tests/stress.o
STRESS_SELFTEST := $(BUILD)/bin/tests/stress_selftest
%.wrapped.o: %.o tests/wrap.syms
	@$(if $(Q),$(SAY) "  WRAP    $@")
	$(Q)$(OBJCOPY) --redefine-syms=tests/wrap.syms $< $@

# Per lesson: the test object, the stub's and solution's programs, demos.
define lesson_rules
$(1)_T := $(call topic,$(1))
$(BUILD)/obj/tests/$(1)/%.o: tests/$(1)/%.c | need-check
	@mkdir -p $$(@D)
	@$$(if $(Q),$(SAY) "  CC      $$<")
	$(Q)$$(CC) $$(CFLAGS_ALL) $$(CHECK_CFLAGS) -Ilessons/$(1) -Itests -c $$< -o $$@
$(BUILD)/obj/tests/$(1)/%.san.o: tests/$(1)/%.c | need-check
	@mkdir -p $$(@D)
	@$$(if $(Q),$(SAY) "  CC SAN  $$<")
	$(Q)$$(CC) $$(CSTD) $$(WARN) $$(TEST_SAN_FLAGS) -MMD -MP \
	    -fdebug-prefix-map=$(CURDIR)=. $$(CHECK_CFLAGS) -Ilessons/$(1) -Itests \
	    -c $$< -o $$@
$(BUILD)/obj/lessons/$(1)/%.o: lessons/$(1)/%.c
	@mkdir -p $$(@D)
	@$$(if $(Q),$(SAY) "  CC      $$<")
	$(Q)$$(CC) $$(CFLAGS_ALL) $$(INIT) -Ilessons/$(1) -c $$< -o $$@
$(BUILD)/obj/solutions/$(1)/%.o: solutions/$(1)/%.c
	@mkdir -p $$(@D)
	@$$(if $(Q),$(SAY) "  CC      $$<")
	$(Q)$$(CC) $$(CFLAGS_ALL) $$(INIT) -Ilessons/$(1) -c $$< -o $$@
$(BUILD)/bin/%/$(1)/check_$$($(1)_T): $(BUILD)/obj/tests/$(1)/check_$$($(1)_T).o \
		$(BUILD)/obj/%/$(1)/$$($(1)_T).wrapped.o $(HARNESS_OBJS)
	@mkdir -p $$(@D)
	@$$(if $(Q),$(SAY) "  LD      $$@")
	$(Q)$$(CC) $$^ $$(CHECK_LIBS) -o $$@
$(BUILD)/bin/%/$(1)/demo: $(BUILD)/obj/tests/$(1)/demo_$$($(1)_T).o \
		$(BUILD)/obj/%/$(1)/$$($(1)_T).o
	@mkdir -p $$(@D)
	@$$(if $(Q),$(SAY) "  LD      $$@")
	$(Q)$$(CC) $$^ -pthread -lrt $$(CRYPTO_LIBS) -o $$@
PROGRAMS += $(foreach t,lessons solutions,\
	$(BUILD)/bin/$(t)/$(1)/check_$$($(1)_T) $(BUILD)/bin/$(t)/$(1)/demo)
TEST_OBJS += $(BUILD)/obj/tests/$(1)/check_$$($(1)_T).o
endef
$(foreach l,$(ALL_LESSONS),$(eval $(call lesson_rules,$(l))))
# What the lessons chosen with L= need (all of them without L=).
L_TEST_OBJS := $(foreach l,$(LESSONS),$(BUILD)/obj/tests/$(l)/check_$(call topic,$(l)).o)
L_TEST_SAN_OBJS := $(L_TEST_OBJS:.o=.san.o)
L_PROGRAMS := $(foreach l,$(LESSONS),$(foreach t,lessons solutions,\
	$(BUILD)/bin/$(t)/$(l)/check_$(call topic,$(l)) $(BUILD)/bin/$(t)/$(l)/demo))

# ------------------------------------------------------------- sanitizers

# Every test program links tests/sanitize.o: no-ops in a normal build; in
# the grader's sanitizer pass it turns ASan/UBSan/LSan reports into verdicts.
SAN_OBJ := $(BUILD)/obj/tests/sanitize.o
$(SAN_OBJ): tests/sanitize.c
	@mkdir -p $(@D)
	@$(if $(Q),$(SAY) "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -Itests -c $< -o $@
$(filter-out %/demo,$(PROGRAMS)) $(STRESS_SELFTEST): $(SAN_OBJ)
grader grade check progress watch grade-class: $(SAN_OBJ)

# `make san`: every lesson's tests against the stub and the solution
# compiled as the grader's second pass compiles the student's object (the
# normal pass's flags plus SAN_FLAGS), into
# $(BUILD)/bin/san/{lessons,solutions}/NN_topic/check_topic.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
# The tests' own objects for that pass: ASan alone, so that a byte written
# past a test's local array by the student's code is seen too (a test
# built without it has no red zones around its stack); -O1, as cheap to
# compile as the plain -O2 object.
TEST_SAN_FLAGS := -O1 -g -fsanitize=address -fno-omit-frame-pointer
SAN_LINK = $(BUILD)/obj/tests/$(1)/check_$(call topic,$(1)).san.o \
	$(BUILD)/obj/san/%/$(1)/$(call topic,$(1))$(if $(wildcard tests/wrap.syms),.wrapped).o \
	$(or $(HARNESS_OBJS),$(BUILD)/obj/tests/harness.o) $(SAN_OBJ)
$(BUILD)/obj/san/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),$(SAY) "  CC SAN  $<")
	$(Q)$(CC) $(CSTD) $(WARN) $(OPT) $(INIT) $(SAN_FLAGS) -MMD -MP \
	    -fdebug-prefix-map=$(CURDIR)=. -Ilessons/$(notdir $(*D)) -c $< -o $@
define san_rules
$(BUILD)/bin/san/%/$(1)/check_$(call topic,$(1)): $(SAN_LINK)
	@mkdir -p $$(@D)
	@$$(if $(Q),$(SAY) "  LD SAN  $$@")
	$(Q)$$(CC) $$(SAN_FLAGS) $$^ $$(CHECK_LIBS) -o $$@
endef
$(foreach l,$(ALL_LESSONS),$(eval $(call san_rules,$(l))))
san: $(foreach l,$(LESSONS),$(foreach t,lessons solutions,\
	$(BUILD)/bin/san/$(t)/$(l)/check_$(call topic,$(l))))

# ----------------------------------------------------------------- grader

GRADER_SRC := $(wildcard grader/*.c)
GRADER_OBJ := $(GRADER_SRC:%.c=$(BUILD)/obj/%.o)
GRADER     := $(BUILD)/bin/grader
# Paths are built in PATH_MAX buffers; gcc's guess at the longest possible
# snprintf result (several PATH_MAX inputs) is not a bug.  clang has no
# such warning (and -Werror would refuse the unknown option): ask $(CC).
GRADER_CFLAGS := $(shell $(CC) -Werror -Wno-format-truncation -E -x c \
	/dev/null >/dev/null 2>&1 && echo -Wno-format-truncation)
# How the grader compiles and links student code and (hidden) tests.
# The student's file gets the flags the course and the demos build with:
# full marks imply that `make demo` builds.
GRADER_DEFS := -DFL_CSTD='"$(CSTD)"' -DFL_CHECK_LIBS='"$(CHECK_LIBS)"' \
	-DFL_STUDENT_CFLAGS='"$(CSTD) $(WARN) $(OPT) $(INIT)"' \
	-DFL_CHECK_CFLAGS='"$(CHECK_CFLAGS)"'

ifneq ($(filter $(REPORT_GOALS),$(MAKECMDGOALS)),)
ifeq ($(wildcard $(GRADER)),)
$(info Building the course and its tests, once: a minute or so.)
endif
endif

# The grader's objects are rebuilt when GRADER_DEFS change (a new flag for
# student code, say): the flags are kept in a file that changes with them.
GRADER_STAMP := $(BUILD)/obj/grader/defs
ifeq ($(filter clean distclean,$(MAKECMDGOALS)),)
ifneq ($(file <$(GRADER_STAMP)),$(GRADER_DEFS))
$(shell mkdir -p $(dir $(GRADER_STAMP)))
$(file >$(GRADER_STAMP),$(GRADER_DEFS))
endif
endif
$(GRADER_STAMP): # (after a clean in the same run: rebuilt on the next)
	@mkdir -p $(@D) && touch $@

$(BUILD)/obj/grader/%.o: grader/%.c $(GRADER_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),$(SAY) "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(GRADER_CFLAGS) -Igrader -Itests $(GRADER_DEFS) -c $< -o $@

$(GRADER): $(GRADER_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),$(SAY) "  LD      $@")
	$(Q)$(CC) $^ -o $@

all: $(PROGRAMS) $(GRADER)

GRADE_OUT ?= $(BUILD)/grade
GRADE_OPTS = --course . --objdir $(BUILD)/obj --cc $(CC) \
	$(if $(L),--lesson $(L)) $(if $(T),--test $(T)) $(if $(ONLY),--only $(ONLY)) \
	$(if $(HIDDEN),--hidden $(HIDDEN)) $(if $(STRICT),--strict) \
	$(if $(LOOSE),--loose) $(if $(ALL),--all)
GRADE_ARGS = $(GRADE_OPTS) --submission $(SUBMISSION) --out $(GRADE_OUT)
GRADE_DEPS = $(GRADER) $(TRACE) $(L_TEST_OBJS) $(L_TEST_SAN_OBJS) \
	$(HARNESS_OBJS) $(NAMES) \
	$(L_TEST_OBJS:.o=.names) $(HARNESS_OBJS:.o=.names) $(SAN_OBJ:.o=.names)

# The names of the C library and of Check that a student's object may not
# define (or, for Check's, use): the grader reads them here instead of
# running nm on the libraries each time it starts.
NAMES := $(BUILD)/obj/tests/libc.names $(BUILD)/obj/tests/check.names \
	$(BUILD)/obj/tests/crypto.names
# ...and the names each test object and the harness define.
$(BUILD)/obj/tests/%.names: $(BUILD)/obj/tests/%.o
	$(Q)nm -P -g --defined-only $< | sed 's/[ @].*//' | sort -u >$@.tmp && mv $@.tmp $@
libfile = $(shell $(CC) -print-file-name=$(1))
$(BUILD)/obj/tests/libc.names:
	@mkdir -p $(@D)
	$(Q)nm -D -P -g --defined-only $(call libfile,libc.so.6) \
	    $(call libfile,libm.so.6) | sed 's/[ @].*//' | sort -u >$@.tmp && mv $@.tmp $@
# libcrypto's names a lesson file may call but not define (lesson 11's
# tests compute HMACs with it too: a student's HMAC() would answer them).
$(BUILD)/obj/tests/crypto.names:
	@mkdir -p $(@D)
	$(Q)nm -D -P -g --defined-only $(call libfile,libcrypto.so) | \
	    sed 's/[ @].*//' | sort -u >$@.tmp && mv $@.tmp $@
$(BUILD)/obj/tests/check.names:
	@mkdir -p $(@D)
	$(Q)for l in $(patsubst -l%,%,$(filter -l%,$(CHECK_LIBS))); do \
	    case $$l in m|rt|pthread|crypto) continue ;; esac; \
	    f=$$($(CC) -print-file-name=lib$$l.a); [ -f "$$f" ] || continue; \
	    nm -P -g --defined-only "$$f" 2>/dev/null; done | \
	    grep -v ':$$' | sed 's/[ @].*//' | sort -u >$@.tmp && mv $@.tmp $@

# Everything grading needs, and no more (no solutions): what autograders build.
grader: $(GRADE_DEPS)


# make grade (and grade-class, and Gradescope's) runs each passing test
# again built with ASan and UBSan; make check, watch and progress keep to
# the plain build, for speed.  SAN=0 skips the sanitizer pass.
SAN_OPT = $(if $(filter 0,$(SAN)),--no-sanitize)
grade: $(GRADE_DEPS)
	$(Q)$(GRADER) $(GRADE_ARGS) $(SAN_OPT)

check: $(GRADE_DEPS)
	$(Q)$(GRADER) $(GRADE_ARGS) --verbose --no-sanitize

# progress and watch keep each lesson's results in $(GRADE_OUT)/cache/,
# reused while the lesson's file and the course's tests are unchanged.
progress: $(GRADE_DEPS)
	$(Q)$(GRADER) $(GRADE_ARGS) --cache $(GRADE_OUT)/cache --summary --no-sanitize

watch: $(GRADE_DEPS)
	$(Q)$(GRADER) $(GRADE_ARGS) --cache $(GRADE_OUT)/cache --watch --no-sanitize

list: $(GRADER)
	$(Q)$(GRADER) --course . --list

reset:
	@test -n "$(L)" || { echo "usage: make reset L=NN"; exit 2; }
	$(Q)for l in $(LESSONS); do BUILD=$(BUILD) sh tests/reset.sh $$l; done

grade-class: $(GRADE_DEPS)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade-class SUBMISSIONS=DIR"; exit 2; }
	$(Q)$(GRADER) $(GRADE_OPTS) $(SAN_OPT) --class $(SUBMISSIONS) --out $(BUILD)/class \
	    $(if $(JOBS),--jobs $(JOBS))

demo: $(foreach l,$(LESSONS),$(BUILD)/bin/lessons/$(l)/demo)
	$(Q)for d in $^; do echo "== $$d"; ./$$d; done

hint:
	@test -n "$(L)" || { echo "usage: make hint L=NN"; exit 2; }
	$(Q)for l in $(LESSONS); do BUILD=$(BUILD) sh tests/hint.sh $$l; done

# ----------------------------------------------------------------- trace

# `make trace L=NN`: the lesson's demo (or T=test_name, one test) run under
# strace; tools/trace draws the processes, reaps and pipe ends, in the
# terminal and as $(BUILD)/trace/NN_topic[-test].svg.
TRACE := $(BUILD)/bin/trace
TRACE_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/trace/*.c))
$(BUILD)/obj/tools/trace/%.o: tools/trace/%.c
	@mkdir -p $(@D)
	@$(if $(Q),$(SAY) "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(GRADER_CFLAGS) -c $< -o $@
$(TRACE): $(TRACE_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),$(SAY) "  LD      $@")
	$(Q)$(CC) $^ -o $@
TRACE_TREE = $(if $(filter 1,$(SOLUTION)),solutions,lessons)
trace: $(TRACE) $(foreach l,$(LESSONS),$(BUILD)/bin/$(TRACE_TREE)/$(l)/$(if \
		$(T),check_$(call topic,$(l)),demo))
	@test -n "$(L)" || { echo "usage: make trace L=NN [T=test_name] [SOLUTION=1]"; exit 2; }
	@mkdir -p $(BUILD)/trace
	$(Q)for l in $(LESSONS); do t=$${l#*_}; n=$$l$(if $(T),-$(T)); \
	    ./$(TRACE) --svg $(BUILD)/trace/$$n.svg --save-log $(BUILD)/trace/$$n.strace \
	    $(if $(T),--test $(BUILD)/bin/$(TRACE_TREE)/$$l/check_$$t $(T),\
	    --title "$$l demo ($(if $(filter 1,$(SOLUTION)),the reference solution,your code))" -- $(BUILD)/bin/$(TRACE_TREE)/$$l/demo) \
	    || exit 1; done

# ---------------------------------------------------------- editors

# clangd and VS Code read each file's flags and include paths (check.h,
# the lesson's header, tests/) from compile_commands.json; clangd finds it
# in build/ by itself.  Remade when a C file or this Makefile changes.
COMPDB := $(BUILD)/compile_commands.json
$(COMPDB): Makefile tests/compile_commands.sh \
		$(wildcard lessons/*/*.c solutions/*/*.c tests/*.c tests/*/*.c grader/*.c)
	@mkdir -p $(@D)
	$(Q)CC="$(CC)" CFLAGS="$(CSTD) $(WARN)" CHECK_CFLAGS="$(CHECK_CFLAGS)" \
	    sh tests/compile_commands.sh >$@.tmp && mv $@.tmp $@
$(COMPDB): export GRADER_FLAGS = $(GRADER_CFLAGS) $(GRADER_DEFS)
compile_commands.json: $(COMPDB)
	@echo "wrote $(COMPDB) (clangd finds it; VS Code: C_Cpp.default.compileCommands)"
all grade check progress watch: $(COMPDB)

# ------------------------------------------------------ autograders

GS := $(BUILD)/gradescope
gradescope: ## Gradescope autograder bundle
	$(Q)BUILD=$(BUILD) HIDDEN=$(HIDDEN) sh grader/gradescope/bundle.sh $(GS)

classroom: ## GitHub Classroom workflow, one step per test
	$(Q)sh grader/classroom.sh >.github/workflows/classroom.yml
	@echo "wrote .github/workflows/classroom.yml"

# ------------------------------------------------------------------ lint

# `make lint`: the house style and two linters, over every file they fit.
# clang-format (the committed .clang-format) on every C file but the golden
# tests' inputs, whose compiler messages are kept byte for byte;
# shellcheck (.shellcheckrc says what it leaves out, and why) on every
# script; cppcheck on the grader, the tools, the harness and every lesson's
# stub and solution (not the check_*.c files: Check's macros make it take
# minutes and report nothing).  make deps LINT=1 installs the three.
# git lists the files, new ones too (not yet added), but not what
# .gitignore leaves out (build/).
LS_FILES = git ls-files --cached --others --exclude-standard
LINT_C  = $(filter-out tests/golden/%,$(shell $(LS_FILES) '*.c' '*.h' 2>/dev/null))
LINT_SH = $(shell $(LS_FILES) '*.sh' .ci/run grader/gradescope/run_autograder 2>/dev/null)
lint: ## clang-format, shellcheck and cppcheck, as CI runs them
	@[ -n "$(LINT_C)" ] || { echo "make lint lists the files with git: run it in a clone" >&2; exit 1; }
	$(Q)clang-format --dry-run --Werror $(LINT_C)
	$(Q)shellcheck $(LINT_SH)
	$(Q)cppcheck --quiet --max-configs=1 --enable=warning,portability \
	    --std=c11 --inline-suppr --error-exitcode=1 -D_POSIX_C_SOURCE=200809L \
	    -Itests -Ilessons -Igrader grader tools tests/harness.c \
	    tests/stress.c tests/sanitize.c solutions lessons
	@echo "lint: clean (clang-format, shellcheck, cppcheck)"

# ----------------------------------------------------------------- bench

# One benchmark program per lesson it measures, linked with its solution.
BENCH_PROGS := $(patsubst tests/bench/bench_%.c,$(BUILD)/bin/bench/bench_%,\
	$(wildcard tests/bench/bench_*.c))
# Each depends on bench.h, and (through the .d that -MMD writes, which
# names the solution and its header) on the lesson it measures.
$(BUILD)/bin/bench/bench_%: tests/bench/bench_%.c tests/bench/bench.h
	@mkdir -p $(@D)
	@$(if $(Q),$(SAY) "  CC      $@")
	$(Q)l=$$(ls -d solutions/$*_*); $(CC) $(CFLAGS_ALL) -I$${l#solutions/} \
	    -Ilessons/$${l#solutions/} $< $$l/*.c -pthread -lrt -lm $(CRYPTO_LIBS) -o $@

bench: $(BENCH_PROGS) ## Reference code against Python, side by side
	$(Q)BUILD=$(BUILD) QUICK=$(QUICK) PYTHON=$(PYTHON) sh tests/bench/bench.sh

# ------------------------------------------------------------ the course

# What make test needs is built first, a job a core: from a clean clone,
# 29 s one at a time against 19 s two at a time, measured on 2 cores.
test: ## The course's own tests
	$(Q)$(MAKE) --no-print-directory -j$$(nproc) $(L_PROGRAMS) $(GRADE_DEPS) \
	    $(STRESS_SELFTEST)
	$(Q)LESSONS="$(LESSONS)" BUILD=$(BUILD) ONLY_LESSONS=$(if $(L),1) \
	    sh tests/selftest.sh

# What make test leaves to CI for time: make bench's smoke run, bench.py,
# the course built with clang (tests/extra.sh).  .ci/run runs both.
test-extra: $(GRADE_DEPS) ## make bench's smoke run and the clang build
	$(Q)BUILD=$(BUILD) sh tests/extra.sh

# The stress library's own test: faults, storms and clock jumps, on a
# small object wrapped as the lessons' are.
$(BUILD)/obj/tests/stress_target.o: tests/stress_target.c
	@mkdir -p $(@D)
	@$(if $(Q),$(SAY) "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(INIT) -c $< -o $@
$(BUILD)/obj/tests/stress_selftest.o: tests/stress_selftest.c | need-check
	@mkdir -p $(@D)
	@$(if $(Q),$(SAY) "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -Itests -c $< -o $@
$(STRESS_SELFTEST): $(BUILD)/obj/tests/stress_selftest.o \
		$(BUILD)/obj/tests/stress_target.wrapped.o $(HARNESS_OBJS)
	@mkdir -p $(@D)
	@$(if $(Q),$(SAY) "  LD      $@")
	$(Q)$(CC) $^ $(CHECK_LIBS) -o $@

# Every mechanical mutant of a lesson's solution (tests/sweep.py), graded
# as make test grades a mutant, into build/sweep/NN_topic; what escaped is
# listed.  OPS=swap,var picks operators; a new solution starts it over.
SWEEP_DIR = $(BUILD)/sweep/$(LESSONS)
sweep: $(GRADE_DEPS) ## Grade every mechanical mutant of a solution (L=NN)
	$(Q)test "$(words $(LESSONS))" = 1 || { echo "make sweep needs one lesson: make sweep L=05"; exit 2; }
	$(Q)src=$$(ls solutions/$(LESSONS)/*.c); \
	if [ ! -f $(SWEEP_DIR)/list.tsv ] || [ $$src -nt $(SWEEP_DIR)/list.tsv ] || \
	   [ "$$(cat $(SWEEP_DIR)/ops 2>/dev/null)" != "$(OPS)" ]; then \
	    rm -rf $(SWEEP_DIR) && mkdir -p $(SWEEP_DIR) && echo "$(OPS)" >$(SWEEP_DIR)/ops && \
	    python3 tests/sweep.py $$src $(SWEEP_DIR) $(if $(OPS),--ops $(OPS)); fi
	$(Q)BUILD=$(BUILD) sh tests/sweep.sh $(LESSONS) $(SWEEP_DIR)

# The grader's reports of tests/golden/cases, pinned; UPDATE=1 writes them.
golden: $(GRADE_DEPS) ## Compare the grader's messages with the kept ones
	$(Q)BUILD=$(BUILD) sh tests/golden.sh $(if $(UPDATE),--update)

stress-selftest: $(STRESS_SELFTEST) ## The stress library's own test
	$(Q)./$(STRESS_SELFTEST)

docs: ## The docs site (Doxygen)
	$(Q)sh docs/build.sh $(BUILD)/docs
	@echo "docs: $(BUILD)/docs/html/index.html"

docs-solutions: ## The docs site with the solutions, for instructors
	$(Q)SOLUTIONS=1 sh docs/build.sh $(BUILD)/docs-solutions
	@echo "docs: $(BUILD)/docs-solutions/html/index.html"

# Coverage: solutions and grader built with --coverage.  A child that ends
# with _exit would lose its counters, so _exit is wrapped to dump them.
COV := $(BUILD)/cov
COV_FLAGS := $(CSTD) -O0 -g --coverage
COV_LINK  := --coverage -Wl,--wrap=_exit
# gcc's coverage whatever CC is: gcovr reads it with gcov, and clang's
# calls __gcov_fork where the code says fork (so no test could make fork
# fail) and needs llvm-cov, which make deps does not install.
COV_CC ?= $(if $(shell command -v gcc 2>/dev/null),gcc,$(CC))

$(COV)/gcov_exit.o: tests/gcov_exit.c
	@mkdir -p $(@D)
	$(Q)$(COV_CC) $(COV_FLAGS) -c $< -o $@

# The solution is wrapped (tests/wrap.syms) as in the test programs.
$(COV)/%/solution.o: solutions/%/*.c tests/wrap.syms
	@mkdir -p $(@D)
	$(Q)$(COV_CC) $(COV_FLAGS) -Ilessons/$* -c $(filter %.c,$^) -o $(@:.o=.raw.o)
	$(Q)$(OBJCOPY) --redefine-syms=tests/wrap.syms $(@:.o=.raw.o) $@

# Only the solution is measured: the tests and the harness are the objects
# the test programs are linked from, not compiled a second time.
$(COV)/%/check: $(COV)/%/solution.o $(COV)/gcov_exit.o $(HARNESS_OBJS) \
		$(SAN_OBJ) $(L_TEST_OBJS)
	@mkdir -p $(@D)
	$(Q)$(COV_CC) $(BUILD)/obj/tests/$*/check_$(call topic,$*).o \
	    $(HARNESS_OBJS) $(SAN_OBJ) $(COV)/$*/solution.o $(COV)/gcov_exit.o \
	    $(COV_LINK) $(CHECK_LIBS) -o $@

$(COV)/grader: $(GRADER_SRC)
	@mkdir -p $(@D)
	$(Q)$(COV_CC) $(COV_FLAGS) -Igrader -Itests $(GRADER_DEFS) $^ --coverage -o $@

# GRADER_COV=0 (make test): the solutions only, not the grader's report.
coverage: $(foreach l,$(LESSONS),$(COV)/$(l)/check) \
		$(if $(filter 0,$(GRADER_COV)),,$(COV)/grader) \
		$(L_TEST_OBJS) $(HARNESS_OBJS)
	$(Q)COV=$(COV) LESSONS="$(LESSONS)" BUILD=$(BUILD) \
	    GRADER_COV=$(GRADER_COV) sh tests/coverage.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
-include $(wildcard $(BUILD)/bin/bench/*.d)
