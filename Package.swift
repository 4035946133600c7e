// swift-tools-version:6.1
import PackageDescription

// `make fuzz` sets PORTCULLIS_FUZZ (and builds in .build-fuzz): our modules get libFuzzer's instrumentation and
// optimisation; dependencies stay as they are, so that build reuses their objects.
let fuzzing = Context.environment["PORTCULLIS_FUZZ"] != nil

let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
] + (fuzzing ? [.unsafeFlags(["-sanitize=fuzzer", "-O"]), .define("PORTCULLIS_FUZZ")] : [])

let nioCore: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")
let nioPosix: Target.Dependency = .product(name: "NIOPosix", package: "swift-nio")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let hummingbird: Target.Dependency = .product(name: "Hummingbird", package: "hummingbird")
let grdb: Target.Dependency = .product(name: "GRDB", package: "GRDB.swift")
let yams: Target.Dependency = .product(name: "Yams", package: "Yams")
let lifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let httpTypes: Target.Dependency = .product(name: "HTTPTypes", package: "swift-http-types")
let httpClient: Target.Dependency = .product(name: "AsyncHTTPClient", package: "async-http-client")
let nioHTTP1: Target.Dependency = .product(name: "NIOHTTP1", package: "swift-nio")
let nioSSL: Target.Dependency = .product(name: "NIOSSL", package: "swift-nio-ssl")
let metrics: Target.Dependency = .product(name: "Metrics", package: "swift-metrics")
let prometheus: Target.Dependency = .product(name: "Prometheus", package: "swift-prometheus")

let package = Package(
    name: "portcullis",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "portcullis", targets: ["portcullis"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenSSL",
            path: "Sources/COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        .systemLibrary(
            name: "CPCRE2",
            path: "Sources/CPCRE2",
            pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"]), .brew(["pcre2"])]
        ),
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(name: "GatewayModel", dependencies: ["COpenSSL", "CPCRE2", "CZlib", yams], swiftSettings: settings),
        .target(name: "CertAuth", dependencies: ["GatewayModel", "COpenSSL", httpClient, nioCore, nioHTTP1],
                swiftSettings: settings),
        .target(name: "GatewayProto", dependencies: ["GatewayModel", nioCore], path: "Proto",
                exclude: ["PROTOCOL.md"], swiftSettings: settings),
        .target(
            name: "ControlPlane",
            dependencies: ["GatewayModel", "GatewayProto", "CertAuth", hummingbird, grdb, logging, lifecycle, nioCore,
                           nioPosix, httpTypes, prometheus],
            path: "ControlPlane",
            swiftSettings: settings
        ),
        .target(
            name: "DataPlane",
            dependencies: ["GatewayModel", "GatewayProto", "CertAuth", nioCore, nioPosix, nioHTTP1, nioSSL, logging,
                           lifecycle, hummingbird, httpTypes, prometheus,
                           .product(name: "NIOTLS", package: "swift-nio")],
            path: "DataPlane",
            swiftSettings: settings
        ),
        .executableTarget(
            name: "portcullis",
            dependencies: ["ControlPlane", "DataPlane", "GatewayModel", "CertAuth", argumentParser, logging, lifecycle, httpClient,
                           nioCore, nioHTTP1, hummingbird, metrics, prometheus,
                           .product(name: "UnixSignals", package: "swift-service-lifecycle")],
            swiftSettings: settings
        ),
        // The floor of a SwiftNIO relay (no HTTP codec, no routing): a reference point for Benchmarks/proxy.
        .executableTarget(name: "nio-relay", dependencies: [nioCore, nioPosix], path: "Benchmarks/NIORelay",
                          swiftSettings: settings),
        // A micro-benchmark inside the package (it measures package-internal code): `swift run -c release router-bench`.
        .executableTarget(name: "router-bench", dependencies: ["DataPlane", "GatewayModel"], path: "Benchmarks/RouterBench",
                          swiftSettings: settings),
        // Snapshot encode/decode and delta figures at 100k routes / 10k consumers: `swift run -c release snapshot-bench`.
        .executableTarget(name: "snapshot-bench", dependencies: ["DataPlane", "GatewayModel"],
                          path: "Benchmarks/SnapshotBench", swiftSettings: settings),
        // Uncached client-certificate chain verifications per second against `openssl speed`:
        // `swift run -c release certverify-bench [seconds]`.
        .executableTarget(name: "certverify-bench", dependencies: ["CertAuth", "TestSupport"],
                          path: "Benchmarks/CertVerifyBench", swiftSettings: settings),
        // The fuzz targets (docs/fuzzing.md): the inputs we take from outside, one entry each, and the
        // libFuzzer driver (`make fuzz`), which replays inputs when built without PORTCULLIS_FUZZ.
        .target(name: "FuzzTargets", dependencies: ["CertAuth", "ControlPlane", "GatewayModel", "GatewayProto", nioCore],
                path: "Fuzz/Targets", swiftSettings: settings),
        .executableTarget(name: "portcullis-fuzz", dependencies: ["FuzzTargets"], path: "Fuzz/Driver",
                          swiftSettings: settings,
                          linkerSettings: fuzzing ? [.unsafeFlags(["-sanitize=fuzzer"])] : []),
        // Helpers shared by the test targets (example files, certificates minted with the openssl CLI).
        .target(name: "TestSupport", dependencies: ["GatewayModel", nioCore, nioPosix, nioHTTP1], path: "Tests/TestSupport",
                swiftSettings: settings),
        .testTarget(name: "GatewayModelTests", dependencies: ["GatewayModel", "TestSupport"], swiftSettings: settings),
        .testTarget(
            name: "ControlPlaneTests",
            dependencies: ["ControlPlane", "GatewayModel",
                           .product(name: "HummingbirdTesting", package: "hummingbird"), hummingbird, grdb, httpTypes,
                           logging, nioCore, nioPosix, "GatewayProto", "TestSupport", prometheus],
            swiftSettings: settings
        ),
        .testTarget(
            name: "GatewayProtoTests",
            dependencies: ["GatewayProto", "GatewayModel", nioCore, .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "NIOTestUtils", package: "swift-nio")],
            swiftSettings: settings
        ),
        .testTarget(name: "CertAuthTests", dependencies: ["CertAuth", "GatewayModel", "TestSupport"],
                    swiftSettings: settings),
        .testTarget(name: "DataPlaneTests", dependencies: ["DataPlane", "GatewayModel", "TestSupport", nioCore, nioPosix,
                                                           nioHTTP1, logging, lifecycle, prometheus],
                    swiftSettings: settings),
        .testTarget(name: "FuzzTargetTests", dependencies: ["FuzzTargets", "GatewayModel", "TestSupport"],
                    swiftSettings: settings),
        .testTarget(name: "IntegrationTests", dependencies: ["GatewayModel", "TestSupport"], swiftSettings: settings),
    ]
)
