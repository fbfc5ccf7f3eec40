extension Decision {
    /// The suppressions that block a send, in the order found: a collection that holds one block
    /// inline and more in an array. Most blocked checks find one block, and a check that made an
    /// array for it spent a fifth of its time allocating and freeing it (`hush-bench`, 10 M).
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

        @inlinable
        public init() {
            storage = .none
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
        public var endIndex: Int {
            switch storage {
            case .none: 0
            case .one: 1
            case .many(let blocks): blocks.count
            }
        }

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

        @inlinable
        public mutating func append(_ block: Block) {
            switch storage {
            case .none:
                storage = .one(block)
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
