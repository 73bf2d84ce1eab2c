package bpf

// The objects and their Go bindings are committed so that a build needs no
// clang; `make generate` (go generate ./bpf/...) rebuilds them. The include
// directory holds three asm/ shims so the build needs no multiarch headers.

//go:generate go tool bpf2go -tags linux -cflags "-O2 -g -Wall -Werror -Iinclude" -target bpfel,bpfeb filter filter.c
//go:generate go tool bpf2go -tags linux -cflags "-O2 -g -Wall -Werror -Iinclude" -target bpfel,bpfeb block block.c
