# SPDX-License-Identifier: Apache-2.0
# The cores library holds no Asio (nor Beast, nor the plugin host) and does no file I/O: its
# symbols are read with nm.
#   cmake -DNM=<nm> -DLIB=<libportal_cores.a> -P cmake/CheckNoAsio.cmake
if(NOT NM OR NOT LIB)
  message(FATAL_ERROR "set NM and LIB")
endif()
execute_process(COMMAND "${NM}" -C "${LIB}" OUTPUT_VARIABLE symbols RESULT_VARIABLE rc
                ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} ${LIB}: ${err}")
endif()
# The check reads real symbols: the cores it must hold are there.
foreach(expected "portal::relay::Core::" "portal::client::ClientCore::"
                 "portal::handshake::ClientHandshake::" "portal::secure_channel::"
                 "portal::yamux::Session::" "portal::identity::from_pkcs8_pem")
  string(FIND "${symbols}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${LIB}: no ${expected} symbol: is this the cores library?")
  endif()
endforeach()
string(REGEX MATCHALL "[^\n]*(boost::asio|boost::beast|boost::dll|portal::plugin::Host)[^\n]*"
       found "${symbols}")
if(found)
  list(LENGTH found count)
  list(SUBLIST found 0 10 first)
  list(JOIN first "\n  " text)
  message(FATAL_ERROR "${count} I/O or plugin-host symbols in the cores library, first:\n  ${text}")
endif()
# No file I/O: nothing in the cores opens a file (key files are portal/platform).
string(REGEX MATCHALL "\n[ \t]+U (open|open64|openat|fopen|fopen64|creat|fstat|fstat64|std::filesystem::[^\n]*)\n"
       io "${symbols}")
if(io)
  list(JOIN io " " text)
  message(FATAL_ERROR "file I/O in the cores library: ${text}")
endif()
message(STATUS "no Asio, Beast, Boost.DLL, plugin host or file I/O in ${LIB}")
