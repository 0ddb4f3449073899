# Install-time part of `cmake --install`: the default config and the systemd unit, with the
# unit's paths rewritten for the prefix being installed to. Runs inside cmake_install.cmake,
# where CMAKE_INSTALL_PREFIX is the install-time prefix (--prefix, or CPack's /usr) and
# file(INSTALL) adds DESTDIR itself. The WEBHOOKD_* variables come from CMakeLists.txt.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(etc "/etc")  # as GNUInstallDirs: /usr/etc is not a place
else()
  set(etc "${CMAKE_INSTALL_PREFIX}/etc")
endif()
file(INSTALL "${WEBHOOKD_SOURCE_DIR}/config/webhookd.json" DESTINATION "${etc}/webhookd")

file(READ "${WEBHOOKD_SOURCE_DIR}/config/webhookd.service" unit)
string(REPLACE "/usr/bin/webhookd" "${CMAKE_INSTALL_PREFIX}/${WEBHOOKD_BINDIR}/webhookd" unit "${unit}")
string(REPLACE "/etc/webhookd/" "${etc}/webhookd/" unit "${unit}")
string(REPLACE "file:///usr/share/doc/webhookd/" "file://${CMAKE_INSTALL_PREFIX}/${WEBHOOKD_DOCDIR}/" unit "${unit}")
file(WRITE "${WEBHOOKD_STAGING}/webhookd.service" "${unit}")
file(INSTALL "${WEBHOOKD_STAGING}/webhookd.service" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
