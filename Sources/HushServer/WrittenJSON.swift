import Foundation
import Hummingbird
import HushCore

/// A value that writes its own JSON.
protocol JSONWritable: Sendable {
    func write(to json: inout JSONWriter)
}

/// A JSON response written by `JSONWriter`.
struct WrittenJSON<Value: JSONWritable>: ResponseGenerator {
    let value: Value
    var capacity = 256

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var json = JSONWriter(capacity: capacity)
        value.write(to: &json)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }
}
