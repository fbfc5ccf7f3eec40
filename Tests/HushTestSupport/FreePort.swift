import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A loopback port no one listens on now: the kernel picks one for a socket bound to port 0,
/// which is closed again. A port picked at random may already be taken by another test's server
/// (a node that cannot bind would be mistaken for one that is slow to start); the kernel never
/// hands out a port in use, and rarely one just released.
public func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return Int.random(in: 20_000..<60_000) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { return Int.random(in: 20_000..<60_000) }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { return Int.random(in: 20_000..<60_000) }
    return Int(UInt16(bigEndian: address.sin_port))
}
