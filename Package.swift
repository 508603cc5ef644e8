// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "khactl",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Corosync", targets: ["Corosync"]),
        .library(name: "ClusterExec", targets: ["ClusterExec"]),
        .library(name: "Pacemaker", targets: ["Pacemaker"]),
        .executable(name: "khactl", targets: ["khactl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // The C boundary: module map and shim header over corosync's client libraries.
        .systemLibrary(
            name: "CCorosync",
            pkgConfig: "libcpg",
            providers: [.apt(["libcpg-dev", "libquorum-dev", "libvotequorum-dev", "libcmap-dev", "libcorosync-common-dev"])]
        ),
        // Typed, async Swift over CPG, quorum, votequorum and cmap. The only importer of CCorosync.
        .target(name: "Corosync", dependencies: ["CCorosync"]),
        // Command values, the subprocess runner, and the plan/apply engine (live CIB vs spec -> plan -> patch).
        .target(
            name: "ClusterExec",
            dependencies: [
                "Pacemaker",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // Pure value model of the CIB configuration + spec files, validation, XML/pcs/crmsh rendering. No I/O
        // beyond reading a spec file.
        .target(name: "Pacemaker", dependencies: [.product(name: "Yams", package: "Yams")]),
        // The product's features: bootstrap, apply, watch, status and the day-2 commands, each a testable
        // command type. Knows nothing of the lab.
        .target(
            name: "KhactlCore",
            dependencies: [
                "Corosync",
                "ClusterExec",
                "Pacemaker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // An emulated Redfish BMC (HTTPS on Hummingbird) whose power actions run commands: the lab's fencing.
        .target(
            name: "LabBMC",
            dependencies: [
                "ClusterExec",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The lab: namespaced hosts with real corosync/pacemaker, BMCs, faults, drills, `khactl lab`.
        .target(
            name: "KhactlLab",
            dependencies: [
                "KhactlCore",
                "LabBMC",
                "Corosync",
                "ClusterExec",
                "Pacemaker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The resource graph benchmark, run by Scripts/bench.sh.
        .executableTarget(name: "khactl-bench", dependencies: ["Pacemaker"]),
        // @main, and the root command that puts the product's commands and the lab's together.
        .executableTarget(
            name: "khactl",
            dependencies: ["KhactlCore", "KhactlLab", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // A CPG group member in its own process, for the multi-process CPG tests.
        .executableTarget(name: "cpg-peer", dependencies: ["Corosync"], path: "Tests/Support/cpg-peer"),
        // Helpers the test targets share: a corosync in its own namespace, child processes, khactl runs,
        // loopback HTTP and a webhook receiver.
        .target(
            name: "TestSupport",
            dependencies: ["Corosync", "ClusterExec", "Pacemaker"],
            path: "Tests/TestSupport"
        ),
        // One test target per library. The first six need no root and start no cluster daemon (the fast
        // ones: `swift test --skip IntegrationTests`); IntegrationTests starts corosync, pacemaker and labs.
        .testTarget(name: "CorosyncTests", dependencies: ["Corosync"]),
        // Reads Fixtures/ and ../shared/corpora from the package root (computed from #filePath).
        .testTarget(name: "PacemakerTests", dependencies: ["Pacemaker"]),
        .testTarget(name: "ClusterExecTests", dependencies: ["ClusterExec", "Pacemaker", "TestSupport"]),
        .testTarget(
            name: "KhactlCoreTests",
            dependencies: [
                "KhactlCore", "Corosync", "ClusterExec", "Pacemaker", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "LabBMCTests", dependencies: ["LabBMC", "KhactlLab", "ClusterExec", "TestSupport"]),
        .testTarget(name: "KhactlLabTests", dependencies: ["KhactlLab"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Corosync", "ClusterExec", "KhactlCore", "KhactlLab", "Pacemaker", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)

// The fuzz targets (Scripts/fuzz.sh): built only with KHACTL_FUZZ set, with -sanitize=fuzzer, whose libFuzzer
// brings the main function.
if Context.environment["KHACTL_FUZZ"] != nil {
    package.targets.append(.executableTarget(name: "khactl-fuzz", dependencies: ["KhactlCore", "Pacemaker"], path: "Fuzz/khactl-fuzz"))
    package.products.append(.executable(name: "khactl-fuzz", targets: ["khactl-fuzz"]))
}
