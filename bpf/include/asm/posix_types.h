/* The BPF target has no asm/ headers of its own: the generic ones fit. */
#include <asm-generic/posix_types.h>
