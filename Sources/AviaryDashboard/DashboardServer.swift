import Foundation
import Hummingbird
import NIOCore
import Logging
import AviaryReport

/// `aviary dashboard`'s HTTP layer over Hummingbird: the page, the run list and the charts as
/// JSON. Thin on purpose: what is listed and drawn comes from `RunCatalog` and
/// `DashboardCharts`; this file only routes, checks the token and encodes.
public enum DashboardServer {
    public struct Options: Sendable {
        public var root: String
        public var host: String
        public var port: Int
        /// Required on every request when set (always set for a non-loopback bind).
        public var token: String?
        public init(root: String, host: String, port: Int, token: String?) {
            self.root = root; self.host = host; self.port = port; self.token = token
        }
    }

    /// Addresses only this machine can reach: served without a token.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// A fresh token for a non-loopback bind given none: 128 random bits as hex.
    public static func newToken() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(format: "%08x", UInt32.random(in: .min ... .max, using: &g)) }.joined()
    }

    /// Serves until SIGINT or SIGTERM. `onListening` gets the bound port (useful with port 0).
    public static func run(_ options: Options, grouping: @escaping @Sendable ([String]) -> [RunComparison.SeedGroup]?,
                           onListening: @escaping @Sendable (Int) -> Void) async throws {
        let model = DashboardModel(catalog: try RunCatalog(root: options.root), grouping: grouping)
        let router = Router()
        if let token = options.token { router.add(middleware: TokenMiddleware(token: token)) }
        router.get("/") { _, _ in
            Self.response(.ok, type: "text/html; charset=utf-8", body: DashboardPage.html)
        }
        router.get("/api/runs") { _, _ in
            try Self.json(await model.runList())
        }
        router.get("/api/charts") { request, _ in
            let ids = request.uri.queryParameters.getAll("run")
            let axis = request.uri.queryParameters.get("axis").flatMap(ComparisonAxis.init(rawValue:)) ?? .round
            guard !ids.isEmpty else { return try Self.json(["error": "name one or more runs: /api/charts?run=ID"], status: .badRequest) }
            do {
                return try Self.json(await model.charts(ids: ids, axis: axis))
            } catch let error as DashboardError {
                return try Self.json(["error": error.description], status: .notFound)
            } catch let error as ComparisonError {
                return try Self.json(["error": error.description], status: .unprocessableContent)
            }
        }
        // The command prints the address itself; Hummingbird's own log lines only when something is wrong.
        var logger = Logger(label: "aviary-dashboard")
        logger.logLevel = .warning
        let app = Application(router: router,
                              configuration: .init(address: .hostname(options.host, port: options.port), serverName: "aviary-dashboard"),
                              onServerRunning: { channel in onListening(channel.localAddress?.port ?? options.port) },
                              logger: logger)
        do {
            try await app.runService()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw DashboardError.portInUse(host: options.host, port: options.port)
        } catch let error as IOError {
            throw DashboardError.cannotBind(host: options.host, port: options.port, reason: String(cString: strerror(error.errnoCode)))
        }
    }

    static func response(_ status: HTTPResponse.Status, type: String, body: String) -> Response {
        Response(status: status, headers: [.contentType: type, .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return response(status, type: "application/json", body: String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// Every request must carry the token (`?token=` or `Authorization: Bearer`); without it the
/// answer is an empty 401, so a dashboard bound beyond loopback serves nothing to strangers.
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let offered = request.uri.queryParameters.get("token")
            ?? request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard let offered, Self.same(offered, token) else {
            return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer"])
        }
        return try await next(request, context)
    }

    /// Compares without stopping at the first difference, so timing does not reveal a prefix.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
