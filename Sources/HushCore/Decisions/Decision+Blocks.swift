extension Decision {
    /// The suppressions that block a send, in the order found: a collection that holds one block
    /// inline and more in an array, so that a check finding one block (most do) allocates nothing.
    public struct Blocks: RandomAccessCollection, Hashable, Sendable, ExpressibleByArrayLiteral, CustomStringConvertible {
        @usableFromInline
        enum Storage: Sendable {
            case none
            case one(Block)
            /// Two or more.
            case many([Block])
        }

        @usableFromInline
        var storage: Storage
        /// How many blocks `storage` holds, kept beside it so that counting them (and so
        /// `Decision.allowed`) never copies the inline block out of `storage`.
        @usableFromInline
        var storedCount: Int

        @inlinable
        public init() {
            storage = .none
            storedCount = 0
        }

        public init(_ blocks: some Sequence<Block>) {
            self.init()
            for block in blocks { append(block) }
        }

        public init(arrayLiteral blocks: Block...) {
            self.init(blocks)
        }

        @inlinable
        public var startIndex: Int { 0 }

        @inlinable
        public var endIndex: Int { storedCount }

        @inlinable
        public var isEmpty: Bool { storedCount == 0 }

        @inlinable
        public var count: Int { storedCount }

        @inlinable
        public subscript(position: Int) -> Block {
            switch storage {
            case .none: preconditionFailure("a decision's block \(position) of none")
            case .one(let block):
                precondition(position == 0, "a decision's block \(position) of one")
                return block
            case .many(let blocks): return blocks[position]
            }
        }

        /// Appends `block`, moved in rather than copied. The first block is stored inline here, in
        /// the caller; a second or later one goes through `appendToArray`.
        @inlinable
        public mutating func append(_ block: consuming Block) {
            storedCount += 1
            if case .none = storage {
                storage = .one(block)
            } else {
                appendToArray(block)
            }
        }

        /// `append`'s second and later blocks, already counted.
        @usableFromInline
        mutating func appendToArray(_ block: consuming Block) {
            switch storage {
            case .none:
                preconditionFailure("append stores the first block itself")
            case .one(let first):
                storage = .many([first, block])
            case .many(var blocks):
                // Let go of the stored array first, so the append does not copy it.
                storage = .none
                blocks.append(block)
                storage = .many(blocks)
            }
        }

        public static func == (left: Blocks, right: Blocks) -> Bool {
            left.elementsEqual(right)
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(count)
            for block in self { hasher.combine(block) }
        }

        public var description: String {
            Array(self).description
        }
    }
}
