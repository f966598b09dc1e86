# strongswan::charon — Debian's libcharon + libstrongswan with the headers that
# tests/strongswan-headers prepared from Debian's source package.
#
# The headers must come from the same upstream version as the installed
# libraries and be configured as Debian configured them (ME changes the layout
# of daemon_t, ike_sa_t, peer_cfg_t and task_t).  A mismatch is stopped here,
# at configure time, instead of segfaulting at run time.

set(STRONGSWAN_LIBDIR /usr/lib/ipsec CACHE PATH "Where Debian installs libcharon")

execute_process(COMMAND dpkg-query -W -f=\${Version} libstrongswan
	OUTPUT_VARIABLE _ss_installed RESULT_VARIABLE _ss_rc ERROR_QUIET)
if(NOT _ss_rc EQUAL 0 OR _ss_installed STREQUAL "")
	message(FATAL_ERROR "strongSwan: libstrongswan is not installed.\n"
		"Run: sudo tests/setup")
endif()
string(REGEX REPLACE "^([0-9]+:)?([^-]+)-.*$" "\\2" _ss_upstream "${_ss_installed}")

set(STRONGSWAN_DIR "${SDWAN_DEPS_DIR}/strongswan-${_ss_upstream}")
set(_ss_stamp "${STRONGSWAN_DIR}/STAMP")
if(NOT EXISTS "${_ss_stamp}")
	message(FATAL_ERROR "strongSwan: no headers for the installed version ${_ss_installed} "
		"in ${STRONGSWAN_DIR}.\nRun: sudo tests/setup   (it prepares them from Debian's "
		"source package of the same upstream version)")
endif()
file(STRINGS "${_ss_stamp}" _ss_hdr_upstream REGEX "^upstream=")
file(STRINGS "${_ss_stamp}" _ss_hdr_source REGEX "^source=")
string(REPLACE "upstream=" "" _ss_hdr_upstream "${_ss_hdr_upstream}")
string(REPLACE "source=" "" _ss_hdr_source "${_ss_hdr_source}")
if(NOT _ss_hdr_upstream STREQUAL _ss_upstream)
	message(FATAL_ERROR "strongSwan: headers are for ${_ss_hdr_upstream}, the installed "
		"library is ${_ss_upstream} (${_ss_installed}). Mixing them corrupts memory.\n"
		"Run: rm -rf ${STRONGSWAN_DIR} && sudo tests/setup")
endif()
file(STRINGS "${STRONGSWAN_DIR}/include/config.h" _ss_me REGEX "^#define ME ")
if(NOT _ss_me)
	message(FATAL_ERROR "strongSwan: ${STRONGSWAN_DIR}/include/config.h lacks ME "
		"(--enable-mediation); Debian's libcharon has it and the layouts would differ.\n"
		"Run: rm -rf ${STRONGSWAN_DIR} && sudo tests/setup")
endif()
foreach(_lib charon strongswan)
	if(NOT EXISTS "${STRONGSWAN_LIBDIR}/lib${_lib}.so.0")
		message(FATAL_ERROR "strongSwan: ${STRONGSWAN_LIBDIR}/lib${_lib}.so.0 missing. "
			"Run: sudo tests/setup")
	endif()
endforeach()
if(_ss_hdr_source STREQUAL _ss_installed)
	message(STATUS "strongSwan ${_ss_installed}: headers from the same source revision")
else()
	message(STATUS "strongSwan ${_ss_installed}: headers from source ${_ss_hdr_source} "
		"(same upstream ${_ss_upstream}; revisions differ only in patches, no layout change)")
endif()

# Debian installs only the versioned sonames there: link those by path.
add_library(strongswan_lib SHARED IMPORTED)
set_target_properties(strongswan_lib PROPERTIES
	IMPORTED_LOCATION "${STRONGSWAN_LIBDIR}/libstrongswan.so.0"
	IMPORTED_NO_SONAME OFF)
add_library(charon_lib SHARED IMPORTED)
set_target_properties(charon_lib PROPERTIES
	IMPORTED_LOCATION "${STRONGSWAN_LIBDIR}/libcharon.so.0")

add_library(strongswan INTERFACE)
add_library(strongswan::charon ALIAS strongswan)
target_include_directories(strongswan SYSTEM INTERFACE
	"${STRONGSWAN_DIR}/include"
	"${STRONGSWAN_DIR}/include/libstrongswan"
	"${STRONGSWAN_DIR}/include/libcharon")
target_compile_options(strongswan INTERFACE
	"SHELL:-include ${STRONGSWAN_DIR}/include/config.h")
target_link_libraries(strongswan INTERFACE charon_lib strongswan_lib)
target_link_options(strongswan INTERFACE "LINKER:-rpath,${STRONGSWAN_LIBDIR}")
