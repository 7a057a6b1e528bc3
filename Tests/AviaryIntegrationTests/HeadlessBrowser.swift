import Foundation

/// Debian's headless Chromium driven over its DevTools pipe (`--remote-debugging-pipe`: JSON
/// messages ended by NUL, read by the browser on fd 3 and written on fd 4), so a test can keep
/// one page open while the files behind it change, ask the page what it shows, and take a
/// screenshot. No WebSocket client is needed.
final class HeadlessBrowser {
    private let pid: pid_t
    private let toBrowser: Int32
    private let fromBrowser: Int32
    private var buffer: [UInt8] = []
    private var nextID = 1
    private var session: String?

    init(browser: String, profile: String, width: Int = 1400, height: Int = 1000) throws {
        var input: [Int32] = [0, 0], output: [Int32] = [0, 0]
        guard pipe(&input) == 0, pipe(&output) == 0 else { throw BrowserError.failed("pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, profile + ".log", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_adddup2(&actions, input[0], 3)
        posix_spawn_file_actions_adddup2(&actions, output[1], 4)
        let argv = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--remote-debugging-pipe",
                    "--user-data-dir=\(profile)", "--window-size=\(width),\(height)", "about:blank"]
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let cEnv = ProcessInfo.processInfo.environment.map { strdup("\($0)=\($1)") } + [nil]
        defer { cEnv.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, browser, &actions, nil, cArgs, cEnv)
        close(input[0]); close(output[1])
        guard rc == 0 else { close(input[1]); close(output[0]); throw BrowserError.failed("cannot start \(browser): \(String(cString: strerror(rc)))") }
        pid = child; toBrowser = input[1]; fromBrowser = output[0]
    }

    deinit {
        _ = try? call("Browser.close", [:], inSession: false, timeout: 5)
        close(toBrowser); close(fromBrowser)
        var status: Int32 = 0
        for _ in 0..<50 where waitpid(pid, &status, WNOHANG) == 0 { usleep(100_000) }
        if waitpid(pid, &status, WNOHANG) == 0 { kill(pid, SIGKILL); waitpid(pid, &status, 0) }
    }

    /// Opens `url` in a new tab and talks to that tab from now on.
    func open(_ url: String) throws {
        let target = try call("Target.createTarget", ["url": url], inSession: false)
        guard let id = target["targetId"] as? String else { throw BrowserError.failed("no targetId in \(target)") }
        let attached = try call("Target.attachToTarget", ["targetId": id, "flatten": true], inSession: false)
        session = attached["sessionId"] as? String
    }

    /// The value of a JavaScript expression in the page (promises awaited).
    func evaluate(_ expression: String) throws -> Any? {
        let r = try call("Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true])
        if let exception = r["exceptionDetails"] { throw BrowserError.failed("\(expression): \(exception)") }
        return (r["result"] as? [String: Any])?["value"]
    }

    /// Evaluates `expression` until `accept` takes its value, or throws after `timeout`, with the last value.
    @discardableResult
    func wait<T>(for expression: String, timeout: Double, as: T.Type = T.self, until accept: (T) -> Bool) throws -> T {
        let deadline = Date().addingTimeInterval(timeout)
        var last: Any?
        while Date() < deadline {
            last = try evaluate(expression)
            if let v = last as? T, accept(v) { return v }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw BrowserError.timedOut("\(expression) still \(String(describing: last)) after \(timeout) s")
    }

    /// The page as PNG.
    func screenshot() throws -> Data {
        let r = try call("Page.captureScreenshot", ["format": "png"])
        guard let text = r["data"] as? String, let png = Data(base64Encoded: text) else { throw BrowserError.failed("no screenshot data") }
        return png
    }

    private func call(_ method: String, _ params: [String: Any], inSession: Bool = true, timeout: Double = 60) throws -> [String: Any] {
        let id = nextID
        nextID += 1
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if inSession, let session { message["sessionId"] = session }
        var bytes = [UInt8](try JSONSerialization.data(withJSONObject: message)) + [0]
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(toBrowser, $0.baseAddress! + sent, $0.count - sent) }
            guard n > 0 else { throw BrowserError.failed("\(method): the browser closed its pipe") }
            sent += n
        }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            while let end = buffer.firstIndex(of: 0) {
                let frame = Data(buffer[..<end])
                buffer.removeSubrange(...end)
                guard let reply = try JSONSerialization.jsonObject(with: frame) as? [String: Any], reply["id"] as? Int == id else { continue }
                if let error = reply["error"] { throw BrowserError.failed("\(method): \(error)") }
                return reply["result"] as? [String: Any] ?? [:]
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw BrowserError.timedOut("\(method): no answer in \(timeout) s") }
            var fd = pollfd(fd: fromBrowser, events: Int16(POLLIN), revents: 0)
            guard poll(&fd, 1, Int32(min(left, 1) * 1000)) >= 0 else { continue }
            if fd.revents == 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = read(fromBrowser, &chunk, chunk.count)
            guard n > 0 else { throw BrowserError.failed("\(method): the browser exited (see its log beside the profile)") }
            buffer += chunk[0..<n]
        }
    }
}

enum BrowserError: Error, CustomStringConvertible {
    case failed(String)
    case timedOut(String)
    var description: String {
        switch self {
        case let .failed(s): "headless chromium: \(s)"
        case let .timedOut(s): "headless chromium: \(s)"
        }
    }
}

/// One HTTP/1.1 request over a plain socket, exactly as written (a URL library would normalise
/// `/../` away before the server ever saw it): status and body.
enum RawHTTP {
    static func get(port: Int, path: String, headers: [String: String] = [:]) throws -> (status: Int, body: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BrowserError.failed("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw BrowserError.failed("connect to port \(port): \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
            + headers.map { "\($0): \($1)\r\n" }.joined() + "\r\n"
        _ = request.utf8CString.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count - 1, 0) }
        var response = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, body)
    }
}
