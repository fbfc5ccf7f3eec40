// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "hush",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "HushCore", targets: ["HushCore"]),
        .library(name: "HushStore", targets: ["HushStore"]),
        .executable(name: "hush-bench", targets: ["hush-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(
            name: "HushCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "HushStore",
            dependencies: [
                "HushCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "hush-bench",
            dependencies: ["HushCore", "HushStore", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(name: "HushCoreTests", dependencies: ["HushCore"]),
        .testTarget(name: "HushStoreTests", dependencies: ["HushCore", "HushStore"]),
    ]
)
