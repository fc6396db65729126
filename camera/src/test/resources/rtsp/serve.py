#!/usr/bin/python3
"""A real RTSP server for the camera tests: GStreamer's RTSP server (Debian's
gir1.2-gst-rtsp-server-1.0, python3-gi, gstreamer1.0-plugins-base and -good; bin/test installs
them) serving a live 64 x 64 test pattern as Motion JPEG over RTP at rtsp://127.0.0.1:PORT/live.

  /usr/bin/python3 serve.py PORT

Prints "ready" once it listens. Stop it to drop the stream (the client sees the connection
closed); SIGSTOP it to stall the stream without closing it (the client must time out).
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
port = sys.argv[1]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=64,height=64,framerate=10/1 "
    "! videoconvert ! video/x-raw,format=I420 "
    "! jpegenc ! rtpjpegpay name=pay0 pt=26 )")
factory.set_shared(True)
server.get_mount_points().add_factory("/live", factory)
if server.attach(None) == 0:
    sys.exit("cannot listen on 127.0.0.1:" + port)
print("ready", flush=True)
GLib.MainLoop().run()
