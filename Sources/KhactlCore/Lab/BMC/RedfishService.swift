import Foundation

/// The Redfish resources of the lab BMC: a service root, a one-member Systems collection, the system with
/// its `PowerState`, and its `ComputerSystem.Reset` action. Pure request-to-response; sockets live in
/// ``RedfishBMC``.
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
    /// One power call at a time: a status poll never sees a half-run power command, and two fencing
    /// requests never run their commands interleaved.
    private let powerLock = NSLock()

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

    func respond(to request: HTTPRequest) -> HTTPResponse {
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
        guard credentials.accepts(authorization: request.header("authorization")) else {
            return Self.error(
                401, "Base.1.8.NoValidSession",
                "Authentication required: send HTTP basic auth with the BMC's username and password.",
                extraHeaders: [("WWW-Authenticate", "Basic realm=\"khactl lab BMC\"")])
        }
        switch request.path {
        case systemsPath:
            return only("GET", request) { .json(200, systemsCollection) }
        case systemPath:
            return only("GET", request) { system() }
        case resetPath:
            return only("POST", request) { reset(request) }
        default:
            return Self.error(404, "Base.1.8.ResourceMissingAtURI", "The resource at \(request.path) does not exist.")
        }
    }

    private func only(_ method: String, _ request: HTTPRequest, _ body: () -> HTTPResponse) -> HTTPResponse {
        guard request.method == method else {
            return Self.error(
                405, "Base.1.8.OperationNotAllowed",
                "\(request.method) is not allowed on \(request.path); use \(method).",
                extraHeaders: [("Allow", method)])
        }
        return body()
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

    private func system() -> HTTPResponse {
        let state: PowerState
        do {
            state = try withPower { try power.powerState() }
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

    private func reset(_ request: HTTPRequest) -> HTTPResponse {
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
            try withPower {
                switch resetType {
                case "On", "ForceOn": try power.powerOn()
                case "ForceOff", "GracefulShutdown": try power.powerOff()
                case "PushPowerButton":
                    if try power.powerState() == .on { try power.powerOff() } else { try power.powerOn() }
                default: try power.reset()
                }
            }
        } catch {
            return powerFailure("carry out ResetType \(resetType)", error)
        }
        return HTTPResponse(status: 204, headers: [("OData-Version", "4.0")])
    }

    private func withPower<T>(_ body: () throws -> T) throws -> T {
        powerLock.lock()
        defer { powerLock.unlock() }
        return try body()
    }

    private func powerFailure(_ what: String, _ error: any Error) -> HTTPResponse {
        log("power control failed to \(what): \(error)")
        return Self.error(500, "Base.1.8.InternalError", "The power control failed to \(what): \(error)")
    }

    /// A Redfish error response (DSP0266 "Error responses").
    static func error(
        _ status: Int, _ messageID: String, _ message: String, extraHeaders: [(String, String)] = []
    ) -> HTTPResponse {
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
