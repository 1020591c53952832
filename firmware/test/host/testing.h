/* Minimal test harness for the host tests: TEST cases, CHECK assertions, a final summary line. */
#ifndef VGPIO_TEST_TESTING_H
#define VGPIO_TEST_TESTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern int t_passed, t_failed;
extern bool t_case_failed;
extern const char *t_case_name;

void t_begin(const char *name);
void t_end(void);
void t_fail(const char *file, int line, const char *what);
void t_hexdump(const char *label, const uint8_t *p, size_t n);

/* A failed CHECK marks the current case failed and returns from the calling function. */
#define CHECK(c) do { if (!(c)) { t_fail(__FILE__, __LINE__, #c); return; } } while (0)
#define CHECK_EQ(a, b) do { unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
    if (a_ != b_) { char m_[200]; snprintf(m_, sizeof m_, "%s == %s (0x%llx != 0x%llx)", #a, #b, a_, b_); \
        t_fail(__FILE__, __LINE__, m_); return; } } while (0)
#define CHECK_MEM(a, b, n) do { if (memcmp((a), (b), (n)) != 0) { t_hexdump("got ", (const uint8_t *)(a), (n)); \
    t_hexdump("want", (const uint8_t *)(b), (n)); t_fail(__FILE__, __LINE__, "memcmp(" #a ", " #b ")"); return; } } while (0)

/* Run fn as one case. */
#define RUN(fn) do { t_begin(#fn); fn(); t_end(); } while (0)

void run_codec_tests(void);
void run_core_tests(void);

#endif
