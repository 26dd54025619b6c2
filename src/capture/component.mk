# capture: landings, click IDs, channels, UTM convention, identity.
OBJS += src/capture/url_parse.o src/capture/cookies.o src/capture/channel.o \
	src/capture/touch.o src/capture/identifiers.o src/capture/utm.o
SQL_PARTS += src/capture/capture.sql src/capture/channel.sql src/capture/utm.sql
REGRESS += capture_url capture_cookies capture_channel capture_utm capture_identity \
	capture_errors capture_privileges input_bounds capture_click_ids
ISOLATION += identify_concurrent
