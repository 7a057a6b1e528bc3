"""One ZeroMQ DEALER connection to the server (docs/PROTOCOL.md section 5), with the Swift
client's socket options, optional CURVE, and a socket monitor that turns a refused CURVE key
into an error at once. Used from one thread only (the host's socket loop)."""
import os

import zmq

from . import wire
from .codec_errors import CodecError

# ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH (zmq.h)
MECHANISM_MISMATCH = 0x11000002


class TransportError(Exception):
    pass


class AuthenticationRefused(TransportError):
    pass


class Connection:
    LINGER_MS = 500
    SEND_TIMEOUT_MS = 10_000
    RECONNECT_IVL_MAX_MS = 2_000

    def __init__(self, endpoint, curve=None):
        self.endpoint = endpoint
        self.curve = curve
        self.context = zmq.Context()
        s = self.context.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, self.LINGER_MS)
        s.setsockopt(zmq.SNDTIMEO, self.SEND_TIMEOUT_MS)
        s.setsockopt(zmq.TCP_KEEPALIVE, 1)
        s.setsockopt(zmq.TCP_KEEPALIVE_IDLE, 30)
        s.setsockopt(zmq.TCP_KEEPALIVE_INTVL, 5)
        s.setsockopt(zmq.TCP_KEEPALIVE_CNT, 3)
        s.setsockopt(zmq.RECONNECT_IVL_MAX, self.RECONNECT_IVL_MAX_MS)
        if curve is not None:
            s.curve_serverkey = curve.server_public_key.encode("ascii")
            s.curve_publickey = curve.public_key.encode("ascii")
            s.curve_secretkey = curve.secret_key.encode("ascii")
        self.monitor = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
        s.connect(endpoint)
        self.socket = s
        self.poller = zmq.Poller()
        self.poller.register(s, zmq.POLLIN)
        self.poller.register(self.monitor, zmq.POLLIN)

    def watch(self, fd):
        """Also wake `receive` when `fd` becomes readable (the training thread's results); the
        bytes written to it are drained here."""
        self.wake_fd = fd
        self.poller.register(fd, zmq.POLLIN)

    def send(self, message):
        """Encodes and sends; returns the frame's size. Raises zmq.Again when the server stopped
        reading for the send timeout (liveness then notices)."""
        frame = wire.encode(message)
        self.socket.send(frame, copy=len(frame) < 65536)
        return len(frame)

    def receive(self, timeout_ms):
        """The next message, a CodecError for a malformed one, or None after `timeout_ms`."""
        events = dict(self.poller.poll(timeout_ms))
        wake = getattr(self, "wake_fd", None)
        if wake is not None and wake in events:
            try:
                while os.read(wake, 4096):
                    pass
            except BlockingIOError:
                pass
        if self.monitor in events:
            self._check_monitor()
        if self.socket not in events:
            return None
        parts = self.socket.recv_multipart(copy=False)
        if len(parts) != 1:
            return CodecError.unexpected_frames(len(parts))
        try:
            return wire.decode(parts[0].buffer)
        except CodecError as e:
            return e

    def _check_monitor(self):
        from zmq.utils.monitor import recv_monitor_message

        while self.monitor.poll(0):
            event = recv_monitor_message(self.monitor)
            if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                raise AuthenticationRefused(
                    f"the server at {self.endpoint} refused this client's CURVE key (ZAP status {event['value']}): "
                    "its public key is not on the server's allow-list; add the .public key file's key to the list "
                    "given to aviary-server --allow")
            if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and event["value"] == MECHANISM_MISMATCH:
                if self.curve is not None:
                    raise TransportError(
                        f"the server at {self.endpoint} does not use CURVE (it is plaintext) and this client does; "
                        "drop --curve-secret and --server-public, or start the server with --curve-secret and --allow")
                raise TransportError(
                    f"the server at {self.endpoint} requires CURVE encryption and this client is plaintext; give "
                    "--curve-secret <key file> and --server-public <server.public> (aviary keygen writes them)")

    def close(self, linger_ms=0):
        try:
            self.socket.setsockopt(zmq.LINGER, int(linger_ms))
            self.socket.disable_monitor()
        except zmq.ZMQError:
            pass
        self.monitor.close(0)
        self.socket.close()
        self.context.term()
