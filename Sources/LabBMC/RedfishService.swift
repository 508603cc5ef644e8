import Foundation

/// The Redfish resources of the lab BMC: a service root, a one-member Systems collection, the system with
/// its `PowerState`, and its `ComputerSystem.Reset` action. Request-to-response only; HTTP and TLS are
/// ``RedfishBMC``'s (Hummingbird).
struct RedfishService: Sendable {
    /// The `ResetType` values served, and what each does to the power control. `Nmi` (fence_redfish's
    /// `diag` action) is left out: a lab node has no NMI to take.
    static let resetTypes: [String] = [
        "On", "ForceOn", "ForceOff", "GracefulShutdown", "ForceRestart", "GracefulRestart", "PowerCycle",
        "PushPowerButton",
    ]

    let credentials: BMCCredentials
    let systemID: String
    let power: any PowerControl
    let log: @Sendable (String) -> Void
    /// One power call at a time.
    private let gate = PowerGate()

    init(
        credentials: BMCCredentials, systemID: String, power: any PowerControl,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.credentials = credentials
        self.systemID = systemID
        self.power = power
        self.log = log
    }

    var systemsPath: String { "/redfish/v1/Systems" }
    var systemPath: String { "\(systemsPath)/\(systemID)" }
    var resetPath: String { "\(systemPath)/Actions/ComputerSystem.Reset" }

    func respond(to request: RedfishRequest) async -> RedfishResponse {
        // Redfish (DSP0266, "Security details") requires the version and service root URIs to answer
        // without authentication, so clients can discover the service before logging in.
        switch request.path {
        case "/redfish":
            return only("GET", request) { .json(200, ["v1": "/redfish/v1/"]) }
        case "/redfish/v1":
            return only("GET", request) { .json(200, serviceRoot) }
        default:
            break
        }
        guard credentials.accepts(authorization: request.authorization) else {
            return Self.error(
                401, "Base.1.8.NoValidSession",
                "Authentication required: send HTTP basic auth with the BMC's username and password.",
                extraHeaders: [("WWW-Authenticate", "Basic realm=\"khactl lab BMC\"")])
        }
        switch request.path {
        case systemsPath:
            return only("GET", request) { .json(200, systemsCollection) }
        case systemPath:
            guard request.method == "GET" else { return notAllowed(request, "GET") }
            return await system()
        case resetPath:
            guard request.method == "POST" else { return notAllowed(request, "POST") }
            return await reset(request)
        default:
            return Self.error(404, "Base.1.8.ResourceMissingAtURI", "The resource at \(request.path) does not exist.")
        }
    }

    private func only(_ method: String, _ request: RedfishRequest, _ body: () -> RedfishResponse) -> RedfishResponse {
        guard request.method == method else { return notAllowed(request, method) }
        return body()
    }

    private func notAllowed(_ request: RedfishRequest, _ method: String) -> RedfishResponse {
        Self.error(
            405, "Base.1.8.OperationNotAllowed", "\(request.method) is not allowed on \(request.path); use \(method).",
            extraHeaders: [("Allow", method)])
    }

    // MARK: resources

    private var serviceRoot: [String: any Sendable] {
        [
            "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot",
            "@odata.id": "/redfish/v1/",
            "Id": "RootService",
            "Name": "khactl lab BMC",
            "RedfishVersion": "1.8.0",
            "Systems": ["@odata.id": systemsPath],
        ]
    }

    private var systemsCollection: [String: any Sendable] {
        [
            "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
            "@odata.id": systemsPath,
            "Name": "Computer System Collection",
            "Members@odata.count": 1,
            "Members": [["@odata.id": systemPath]],
        ]
    }

    private func system() async -> RedfishResponse {
        let state: PowerState
        do {
            state = try await gate.run { [power] in try await power.powerState() }
        } catch {
            return powerFailure("read the power state", error)
        }
        return .json(
            200,
            [
                "@odata.type": "#ComputerSystem.v1_10_0.ComputerSystem",
                "@odata.id": systemPath,
                "Id": systemID,
                "Name": systemID,
                "SystemType": "Physical",
                "PowerState": state.rawValue,
                "Status": ["State": "Enabled", "Health": "OK"],
                "Actions": [
                    "#ComputerSystem.Reset": [
                        "target": resetPath,
                        "ResetType@Redfish.AllowableValues": Self.resetTypes,
                    ] as [String: any Sendable]
                ],
            ])
    }

    private func reset(_ request: RedfishRequest) async -> RedfishResponse {
        let object = try? JSONSerialization.jsonObject(with: Data(request.body))
        guard let parameters = object as? [String: Any] else {
            return Self.error(400, "Base.1.8.MalformedJSON", "The request body is not a JSON object.")
        }
        guard let value = parameters["ResetType"] else {
            return Self.error(
                400, "Base.1.8.ActionParameterMissing", "The action ComputerSystem.Reset needs the parameter ResetType."
            )
        }
        guard let resetType = value as? String, Self.resetTypes.contains(resetType) else {
            return Self.error(
                400, "Base.1.8.ActionParameterValueNotInList",
                "ResetType must be one of \(Self.resetTypes.joined(separator: ", ")).")
        }
        log("reset requested: ResetType=\(resetType)")
        do {
            try await gate.run { [power] in
                switch resetType {
                case "On", "ForceOn": try await power.powerOn()
                case "ForceOff", "GracefulShutdown": try await power.powerOff()
                case "PushPowerButton":
                    if try await power.powerState() == .on { try await power.powerOff() } else { try await power.powerOn() }
                default: try await power.reset()
                }
            }
        } catch {
            return powerFailure("carry out ResetType \(resetType)", error)
        }
        return RedfishResponse(status: 204, headers: [("OData-Version", "4.0")])
    }

    private func powerFailure(_ what: String, _ error: any Error) -> RedfishResponse {
        log("power control failed to \(what): \(error)")
        return Self.error(500, "Base.1.8.InternalError", "The power control failed to \(what): \(error)")
    }

    /// A Redfish error response (DSP0266 "Error responses").
    static func error(
        _ status: Int, _ messageID: String, _ message: String, extraHeaders: [(String, String)] = []
    ) -> RedfishResponse {
        .json(
            status,
            [
                "error": [
                    "code": messageID,
                    "message": message,
                    "@Message.ExtendedInfo": [
                        [
                            "MessageId": messageID, "Message": message,
                            "Severity": status >= 500 ? "Critical" : "Warning",
                        ]
                    ],
                ] as [String: any Sendable]
            ],
            extraHeaders: extraHeaders)
    }
}

/// What ``RedfishService`` reads of a request.
struct RedfishRequest: Sendable {
    /// The method token, as sent (methods are case-sensitive).
    var method: String
    /// The percent-decoded path, without query or trailing slash (`/` stays `/`).
    var path: String
    /// The `Authorization` header, if sent.
    var authorization: String?
    /// The body.
    var body: [UInt8] = []
}

/// What ``RedfishService`` answers.
struct RedfishResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []

    /// A JSON response with Redfish's headers.
    static func json(_ status: Int, _ object: [String: any Sendable], extraHeaders: [(String, String)] = [])
        -> RedfishResponse
    {
        // JSONSerialization cannot fail on the dictionaries of strings, numbers and arrays built here.
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return RedfishResponse(
            status: status,
            headers: [("Content-Type", "application/json; charset=utf-8"), ("OData-Version", "4.0")]
                + extraHeaders.map { (name: $0.0, value: $0.1) },
            body: Array(data))
    }
}
