#!/usr/bin/env python3
"""run.py: the integration suite's runner (stdlib only, no pytest on CI).

Every tests/integration/test_*.py module is imported; its setup_module() runs
first, then each test_* function in file order, then teardown_module(). A test
passes when it returns, fails when it raises. Arguments select tests whose
"module.function" name contains any of them. The last line is
"N passed, N failed", the line tests/run.sh adds up.
"""
import argparse
import importlib
import inspect
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("select", nargs="*")
    args = ap.parse_args()
    os.environ["POSTERN_BUILD"] = args.build
    sys.path.insert(0, HERE)
    passed = failed = 0
    start = time.monotonic()
    for fname in sorted(os.listdir(HERE)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        modname = fname[:-3]
        mod = importlib.import_module(modname)
        tests = [(n, f) for n, f in inspect.getmembers(mod, inspect.isfunction)
                 if n.startswith("test_") and f.__module__ == modname]
        tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
        if args.select:
            tests = [t for t in tests if any(s in "%s.%s" % (modname, t[0]) for s in args.select)]
        if not tests:
            continue
        try:
            if hasattr(mod, "setup_module"):
                mod.setup_module()
        except Exception:
            print("FAIL %s.setup_module" % modname, flush=True)
            traceback.print_exc()
            failed += len(tests)
            failed += 0 if teardown(mod, modname) else 1
            continue
        for name, fn in tests:
            t0 = time.monotonic()
            try:
                fn()
                passed += 1
                print("ok   %s.%s (%.1fs)" % (modname, name, time.monotonic() - t0), flush=True)
            except Exception:
                failed += 1
                print("FAIL %s.%s (%.1fs)" % (modname, name, time.monotonic() - t0), flush=True)
                traceback.print_exc()
                log = getattr(mod, "failure_log", None)
                if log:
                    try:
                        print(log()[-4000:])
                    except Exception:
                        pass
        if not teardown(mod, modname):
            failed += 1
    print("integration: %.0fs" % (time.monotonic() - start))
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


def teardown(mod, modname):
    """True if teardown_module passed (it checks for sanitizer reports)."""
    try:
        if hasattr(mod, "teardown_module"):
            mod.teardown_module()
        return True
    except Exception:
        print("FAIL %s.teardown_module" % modname, flush=True)
        traceback.print_exc()
        return False


if __name__ == "__main__":
    sys.exit(main())
