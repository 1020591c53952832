/* Host test runner: prints every failure and a final "N passed, N failed" line; exit 1 on failure. */
#include <stdio.h>

#include "testing.h"

int t_passed, t_failed;
bool t_case_failed;
const char *t_case_name;

void t_begin(const char *name)
{
    t_case_name = name;
    t_case_failed = false;
}

void t_end(void)
{
    if (t_case_failed)
        t_failed++;
    else
        t_passed++;
}

void t_fail(const char *file, int line, const char *what)
{
    if (!t_case_failed)
        printf("FAIL %s\n", t_case_name);
    printf("  %s:%d: %s\n", file, line, what);
    t_case_failed = true;
}

void t_hexdump(const char *label, const uint8_t *p, size_t n)
{
    printf("  %s:", label);
    for (size_t i = 0; i < n; i++)
        printf(" %02x", p[i]);
    printf("\n");
}

int main(void)
{
    run_codec_tests();
    run_core_tests();
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}
