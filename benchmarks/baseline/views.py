from rest_framework import generics, serializers

from benchmarks.baseline.models import Row


class RowSerializer(serializers.ModelSerializer):
    class Meta:
        model = Row
        fields = ["id", "space", "start", "end", "party_size", "created_at"]
        read_only_fields = ["id", "created_at"]


class RowCreate(generics.CreateAPIView):
    """The bare baseline: authenticate, parse, insert one row, answer 201."""

    serializer_class = RowSerializer

    def perform_create(self, serializer):
        serializer.save(user=self.request.user)
