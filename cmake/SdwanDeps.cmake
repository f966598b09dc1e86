# Third-party libraries, all from Debian packages (tests/setup installs them).
find_package(PkgConfig REQUIRED)

pkg_check_modules(NL REQUIRED IMPORTED_TARGET libnl-3.0 libnl-route-3.0)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(PROTOBUFC REQUIRED IMPORTED_TARGET libprotobuf-c)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
pkg_check_modules(EVENT REQUIRED IMPORTED_TARGET libevent)
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
# the orchestrator checks its TLS priority string with the GnuTLS that MHD uses
pkg_check_modules(GNUTLS REQUIRED IMPORTED_TARGET gnutls)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq) # orchestrator: the PostgreSQL store
pkg_check_modules(NFT REQUIRED IMPORTED_TARGET libnftables)
pkg_check_modules(NFCT REQUIRED IMPORTED_TARGET libnetfilter_conntrack)
pkg_check_modules(CRYPTO REQUIRED IMPORTED_TARGET libcrypto)
# edge/bpf/ (issue 21): libbpf loads the duplication programs, which clang's BPF
# target compiles and bpftool embeds (gen skeleton)
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)
find_program(BPFTOOL bpftool PATHS /usr/sbin /sbin REQUIRED)
find_program(BPF_CLANG clang REQUIRED)

find_program(PROTOC_C protoc-c REQUIRED)

include(StrongSwan)
